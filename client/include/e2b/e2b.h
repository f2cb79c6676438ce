/* e2b/e2b.h - umbrella header of libe2b. */
#ifndef E2B_E2B_H
#define E2B_E2B_H
#include "e2b/error.h"
#include "e2b/client.h"
#include "e2b/sandbox.h"
#include "e2b/local.h"
#include "e2b/code.h"
#include "e2b/files.h"
#include "e2b/commands.h"
#endif
