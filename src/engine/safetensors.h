/* safetensors.h: a validating, mmap-based safetensors reader and an atomic writer.
 * Format: u64 little-endian header length N, N bytes of JSON header, then the data buffer. */
#ifndef FASTFNET_SAFETENSORS_H
#define FASTFNET_SAFETENSORS_H
#include "fastfnet_util.h" /* the declarations: public, as applications use them too */

#endif
