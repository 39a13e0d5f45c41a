"""Checking a baseline JPEG's Huffman-coded image data without decoding it.

libjpeg decodes damaged image data without an error: a bad Huffman code, data
that ends before the last block, or bytes left over before the next marker are
warnings it prints (or not) and goes on, filling the rest with gray. This
module walks the entropy-coded data of each sequential Huffman scan (SOF0 and
SOF1, what cameras, Pillow and OpenCV write) block by block, reading every
code and every coefficient's bits, and reports the first thing libjpeg would
warn about. Progressive and arithmetic-coded scans are not walked (their
structure is still checked by :func:`pixscale.pipeline.masked._jpeg_header`).

Imported lazily (it compiles a kernel on first use), by :mod:`pixscale.pipeline.io`.
"""

import numpy as np

from . import jit

OK, BAD_CODE, PREMATURE_END, EXTRANEOUS, INDEX_PAST_63, BAD_RESTART = 0, 1, 2, 3, 4, 5
PROBLEMS = {
    BAD_CODE: "a bad Huffman code in the image data",
    PREMATURE_END: "the image data ends before its last block",
    EXTRANEOUS: "bytes left over after the last block of a scan or restart interval",
    INDEX_PAST_63: "a run of coefficients past the end of a block",
    BAD_RESTART: "a restart marker missing where one is due",
}


LOOKAHEAD = 9  # bits decoded by one table look-up; longer codes take the bit-by-bit path


def huffman_tables(tables):
    """Decoding arrays of Huffman tables ``[(counts[16], symbols), ...]``: (look, maxcode, valptr, mincode, huffval).

    libjpeg's F.2.2.3 layout: row ``t`` is table ``t``, column ``l`` the code
    length; ``maxcode[t, l]`` is -1 where no code has length ``l`` and the
    sentinel column 17 ends every search. ``look[t, bits]`` is
    ``length << 8 | symbol`` of the code the next :data:`LOOKAHEAD` bits start
    with, 0 if it is longer (or no code). Returns None if a table's counts
    are impossible (more codes than fit in their lengths).
    """
    n = max(len(tables), 1)
    look = np.zeros((n, 1 << LOOKAHEAD), np.int64)
    maxcode = np.full((n, 18), -1, np.int64)
    maxcode[:, 17] = 1 << 20
    valptr = np.zeros((n, 17), np.int64)
    mincode = np.zeros((n, 17), np.int64)
    huffval = np.zeros((n, 256), np.int64)
    for t, (counts, symbols) in enumerate(tables):
        code = k = 0
        for length in range(1, 17):
            c = counts[length - 1]
            if c:
                valptr[t, length], mincode[t, length] = k, code
                if code + c > (1 << length):
                    return None
                if length <= LOOKAHEAD:
                    for i in range(c):
                        lo = (code + i) << (LOOKAHEAD - length)
                        look[t, lo : lo + (1 << (LOOKAHEAD - length))] = (length << 8) | symbols[k + i]
                code += c
                k += c
                maxcode[t, length] = code - 1
            code <<= 1
        huffval[t, : len(symbols)] = np.frombuffer(bytes(symbols), np.uint8)
    return look, maxcode, valptr, mincode, huffval


@jit
def check_scan(data, start, end, block_dc, block_ac, n_mcu, restart, look, maxcode, valptr, mincode, huffval):
    """Walk one sequential Huffman scan of ``data[start:end]``; return OK or the first problem's code.

    Each MCU is the blocks ``block_dc`` / ``block_ac`` list (their DC and AC
    table rows); ``restart`` MCUs (0: no restarts) end in a restart marker.
    The bit buffer ``buf`` holds ``nb`` bits, topped up a byte at a time
    (stuffed 0xFF 0x00 read as 0xFF) until a marker or the end; one loop
    body, its state in locals, because it runs once per coefficient.
    """
    pos = start
    buf = 0
    nb = 0
    mask = (1 << LOOKAHEAD) - 1
    n_blocks = block_dc.shape[0]
    for m in range(n_mcu):
        if restart > 0 and m > 0 and m % restart == 0:
            if nb >= 8:  # whole bytes read ahead and not used: left over
                return EXTRANEOUS
            buf = 0
            nb = 0  # the padding bits of the last byte
            p = pos
            while p + 1 < end and data[p] == 0xFF and data[p + 1] == 0xFF:
                p += 1
            if p + 1 >= end or data[p] != 0xFF or data[p + 1] < 0xD0 or data[p + 1] > 0xD7:
                return EXTRANEOUS if p < end and data[p] != 0xFF else BAD_RESTART
            pos = p + 2
        for b in range(n_blocks):
            k = 0
            while k < 64:
                t = block_dc[b] if k == 0 else block_ac[b]
                if nb <= 48:  # top up
                    while nb <= 48 and pos < end:
                        byte = data[pos]
                        if byte == 0xFF:
                            if pos + 1 >= end or data[pos + 1] != 0:
                                break
                            pos += 2
                        else:
                            pos += 1
                        buf = (buf << 8) | byte
                        nb += 8
                peek = buf >> (nb - LOOKAHEAD) if nb >= LOOKAHEAD else buf << (LOOKAHEAD - nb)
                entry = look[t, peek & mask]
                if entry != 0:
                    length = entry >> 8
                    if length > nb:
                        return PREMATURE_END
                    sym = entry & 255
                else:  # a longer code: bit by bit
                    code = 0
                    sym = -1
                    for length in range(1, 17):
                        if length > nb:
                            return PREMATURE_END
                        code = (code << 1) | ((buf >> (nb - length)) & 1)
                        if code <= maxcode[t, length]:
                            sym = huffval[t, valptr[t, length] + code - mincode[t, length]]
                            break
                    if sym < 0:
                        return BAD_CODE
                nb -= length
                buf &= (1 << nb) - 1
                if k == 0:  # DC: sym is the number of bits of the difference
                    if sym > 16:
                        return BAD_CODE
                    s = sym
                    k = 1
                else:
                    r = sym >> 4
                    s = sym & 15
                    if s == 0:
                        if r != 15:
                            break  # end of block
                        k += 16
                        if k > 64:
                            return INDEX_PAST_63
                        continue
                    k += r
                    if k > 63:
                        return INDEX_PAST_63
                    k += 1
                if s > nb:  # the value's bits
                    while nb <= 48 and pos < end:
                        byte = data[pos]
                        if byte == 0xFF:
                            if pos + 1 >= end or data[pos + 1] != 0:
                                break
                            pos += 2
                        else:
                            pos += 1
                        buf = (buf << 8) | byte
                        nb += 8
                    if s > nb:
                        return PREMATURE_END
                nb -= s
                buf &= (1 << nb) - 1
    if nb >= 8:
        return EXTRANEOUS
    p = pos
    while p < end and data[p] == 0xFF:  # fill bytes before the marker
        p += 1
    return OK if p >= end else EXTRANEOUS


def _ceil(a, b):
    return -(-a // b)


def scan_problem(data, frame_components, width, height, scan, tables, restart):
    """Check one sequential Huffman scan; a few words on what is wrong, or None.

    ``frame_components`` is ``{id: (h, v)}`` in frame order, ``scan`` is
    ``(components [(id, td, ta)], start, end)``, ``tables`` maps
    ``(class, id)`` to ``(counts, symbols)`` as defined before the scan.
    """
    comps, start, end = scan
    hmax = max(h for h, _ in frame_components.values())
    vmax = max(v for _, v in frame_components.values())
    keys = sorted({(0, td) for _, td, _ in comps} | {(1, ta) for _, _, ta in comps})
    if any(k not in tables for k in keys):
        return "a scan uses a Huffman table that is not defined"
    row = {k: i for i, k in enumerate(keys)}
    arrays = huffman_tables([tables[k] for k in keys])
    if arrays is None:
        return "a Huffman table is invalid"
    dc, ac = [], []
    if len(comps) == 1:
        cid, td, ta = comps[0]
        h, v = frame_components[cid]
        wb = _ceil(_ceil(width * h, hmax), 8)  # the component's blocks, as libjpeg counts them
        hb = _ceil(_ceil(height * v, vmax), 8)
        n_mcu = wb * hb
        dc, ac = [row[(0, td)]], [row[(1, ta)]]
    else:
        n_mcu = _ceil(width, 8 * hmax) * _ceil(height, 8 * vmax)
        for cid, td, ta in comps:
            h, v = frame_components[cid]
            dc += [row[(0, td)]] * (h * v)
            ac += [row[(1, ta)]] * (h * v)
    buf = np.frombuffer(data, np.uint8)
    code = check_scan(buf, start, end, np.array(dc, np.int64), np.array(ac, np.int64), n_mcu, restart, *arrays)
    return None if code == OK else PROBLEMS[int(code)]
