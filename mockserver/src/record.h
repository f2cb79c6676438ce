/* record.h - record mode (e2b-mock --record URL --record-dir DIR); see record.c. */
#ifndef E2B_MOCK_RECORD_H
#define E2B_MOCK_RECORD_H

#include "server.h"

typedef struct recorder recorder;

/* From E2B_MOCK_RECORD (upstream URL) and E2B_MOCK_RECORD_DIR (set by main.c's --record /
 * --record-dir); NULL when recording is off or the directory cannot be created. */
recorder *record_new_from_env(void);
void record_free(recorder *r);

/* Proxies req (with its body: the server buffers every body in record mode) upstream, writes
 * the exchange as a rule, and sets *out to the upstream's answer (502 when the upstream failed
 * before answering). A chunked answer is streamed through as it arrives (a proxy thread feeds
 * a mock_stream and writes the rule when the transfer ends); other answers are buffered.
 * Returns 1 when it answered, 0 (out of memory) to let the mock serve the request itself. */
int record_handle(recorder *r, mock_request *req, mock_response **out);

#endif
