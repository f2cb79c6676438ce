/* Included by scripts/lint.sh into every file cppcheck analyses: cppcheck does not read system
 * headers, so the one cJSON macro the code uses as a loop header is declared here. */
#define cJSON_ArrayForEach(element, array) \
    for (element = (array != NULL) ? (array)->child : NULL; element != NULL; element = element->next)
