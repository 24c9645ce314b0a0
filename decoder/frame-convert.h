/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* A decoded picture in the layout a D3D11 decoder outputs: DXGI NV12
 * (8-bit Y plane, then interleaved UV) or P010 (the same with 16-bit
 * little-endian samples holding 10 bits in their high bits), written into a
 * sealed memfd. */

#include <libavutil/frame.h>

#include "decoder-protocol.h"

/* Writes frame into a new memfd, seals it (shrink, grow, write, seal) and
 * fills the FRAME answer's layout fields. Returns the fd, -EPROTONOSUPPORT
 * for a pixel format other than 8- or 10-bit 4:2:0, or a negative errno. */
int frame_to_memfd(const AVFrame *frame, DecoderAnswer *answer);
