/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* A decoded picture in the layout a D3D11 decoder outputs: DXGI NV12
 * (8-bit Y plane, then interleaved UV) or P010 (the same with 16-bit
 * little-endian samples holding 10 bits in their high bits), written into a
 * sealed memfd. */

#include <libavutil/frame.h>

#include "decoder-protocol.h"

/* Fills the FRAME answer's layout fields for frame (format, size, planes,
 * pts; slot -1). Returns 0, -EPROTONOSUPPORT for a pixel format other than
 * 8- or 10-bit 4:2:0, or -EBADMSG for an empty picture. */
int frame_layout(const AVFrame *frame, DecoderAnswer *answer);

/* Writes frame, laid out as frame_layout() said, into a new memfd and seals
 * it for good (shrink, grow, write, seal). Returns the fd or a negative
 * errno. */
int frame_to_memfd(const AVFrame *frame, const DecoderAnswer *layout);

/* Writes frame, laid out as frame_layout() said, into map: a frame pool
 * slot's writable mapping of layout->size bytes. */
void frame_to_mapping(const AVFrame *frame, const DecoderAnswer *layout, uint8_t *map);
