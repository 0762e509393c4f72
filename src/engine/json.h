/* json.h: a small strict (RFC 8259) JSON DOM parser, plus string escaping for writers.
 * Used for safetensors headers and model configs, both of which may come from untrusted files. */
#ifndef FASTFNET_JSON_H
#define FASTFNET_JSON_H
#include "fastfnet_util.h" /* the declarations: public, as applications use them too */

#endif
