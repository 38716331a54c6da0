"""UTF32ToUTF8.convert ported: a code point automaton as the automaton over UTF-8 bytes that a query runs on terms.

Each code point range becomes byte ranges through new intermediate states, so two ranges that share a lead byte make
the result nondeterministic, and its determinization costs effort (deployer.dialects.lucene_limits counts it).
"""

from __future__ import annotations

from deployer.dialects.lucene_automaton import MAX_CODE_POINT, Automaton, build

_MASKS = [0] + [(2 << i) - 1 for i in range(7)]
_START_CODES = (0, 128, 2048, 65536)
_END_CODES = (127, 2047, 65535, MAX_CODE_POINT)


def _utf8_sequence(code: int) -> tuple[list[int], list[int]]:
    """UTF32ToUTF8.UTF8Sequence.set: the bytes of `code` and how many value bits each carries."""
    if code < 128:
        return [code], [7]
    if code < 2048:
        first, bits, rest = (6 << 5) | (code >> 6), 5, 1
    elif code < 65536:
        first, bits, rest = (14 << 4) | (code >> 12), 4, 2
    else:
        first, bits, rest = (30 << 3) | (code >> 18), 3, 3
    values, widths = [first] + [0] * rest, [bits] + [6] * rest
    for index in range(rest):
        values[rest - index] = 128 | (code & 63)
        code >>= 6
    return values, widths


def _first_byte(code: int) -> tuple[int, int]:
    """UTF8Sequence.setFirstByte: the first byte of `code` and its sequence's length."""
    sequence = _utf8_sequence(code)[0]
    return sequence[0], len(sequence)


class _Utf8:
    """UTF32ToUTF8.convert: each code point range becomes byte ranges through new intermediate states."""

    def __init__(self) -> None:
        self.accept: list[bool] = []
        self.raw: list[list[tuple[int, int, int]]] = []

    def state(self, accept: bool = False) -> int:
        self.accept.append(accept)
        self.raw.append([])
        return len(self.accept) - 1

    def add(self, source: int, dest: int, low: int, high: int | None = None) -> None:
        self.raw[source].append((low, low if high is None else high, dest))

    def convert(self, automaton: Automaton) -> Automaton:
        if automaton.states == 0:
            return automaton
        mapped = {0: self.state(automaton.accept[0])}
        pending = [0]
        while pending:
            source = pending.pop()
            for low, high, dest in automaton.transitions[source]:
                if dest not in mapped:
                    mapped[dest] = self.state(automaton.accept[dest])
                    pending.append(dest)
                start, end = _utf8_sequence(low), _utf8_sequence(high)
                self.build(mapped[source], mapped[dest], start, end, 0)
        return build(self.accept, self.raw)

    def build(self, start: int, end: int, first: tuple[list[int], list[int]], last: tuple[list[int], list[int]],
              upto: int) -> None:
        first_bytes, last_bytes = first[0], last[0]
        if first_bytes[upto] == last_bytes[upto]:
            if upto == len(first_bytes) - 1 and upto == len(last_bytes) - 1:
                self.add(start, end, first_bytes[upto], last_bytes[upto])
                return
            middle = self.state()
            self.add(start, middle, first_bytes[upto])
            self.build(middle, end, first, last, upto + 1)
        elif len(first_bytes) == len(last_bytes):
            if upto == len(first_bytes) - 1:
                self.add(start, end, first_bytes[upto], last_bytes[upto])
            else:
                self.start(start, end, first, upto, False)
                if last_bytes[upto] - first_bytes[upto] > 1:
                    self.all(start, end, first_bytes[upto] + 1, last_bytes[upto] - 1, len(first_bytes) - upto - 1)
                self.end(start, end, last, upto, False)
        else:
            self.start(start, end, first, upto, True)
            count = 1 + len(first_bytes) - upto
            while count < len(last_bytes) - upto:
                low_byte, length = _first_byte(_START_CODES[count - 1])
                high_byte, _ = _first_byte(_END_CODES[count - 1])
                self.all(start, end, low_byte, high_byte, length - 1)
                count += 1
            self.end(start, end, last, upto, True)

    def start(self, start: int, end: int, first: tuple[list[int], list[int]], upto: int, do_all: bool) -> None:
        values, bits = first
        if upto == len(values) - 1:
            self.add(start, end, values[upto], values[upto] | _MASKS[bits[upto]])
            return
        middle = self.state()
        self.add(start, middle, values[upto])
        self.start(middle, end, first, upto + 1, True)
        end_code = values[upto] | _MASKS[bits[upto]]
        if do_all and values[upto] != end_code:
            self.all(start, end, values[upto] + 1, end_code, len(values) - upto - 1)

    def end(self, start: int, end: int, last: tuple[list[int], list[int]], upto: int, do_all: bool) -> None:
        values, bits = last
        if upto == len(values) - 1:
            self.add(start, end, values[upto] & ~_MASKS[bits[upto]], values[upto])
            return
        if len(values) == 2:
            start_code = 0xC2
        elif len(values) == 3 and upto == 1 and values[0] == 0xE0:
            start_code = 0xA0  # the first 3-byte character is E0 A0 80
        elif len(values) == 4 and upto == 1 and values[0] == 0xF0:
            start_code = 0x90  # the first 4-byte character is F0 90 80 80
        else:
            start_code = values[upto] & ~_MASKS[bits[upto]]
        if do_all and values[upto] != start_code:
            self.all(start, end, start_code, values[upto] - 1, len(values) - upto - 1)
        middle = self.state()
        self.add(start, middle, values[upto])
        self.end(middle, end, last, upto + 1, True)

    def all(self, start: int, end: int, low: int, high: int, left: int) -> None:
        if left == 0:
            self.add(start, end, low, high)
            return
        last = self.state()
        self.add(start, last, low, high)
        while left > 1:
            middle = self.state()
            self.add(last, middle, 128, 191)
            left -= 1
            last = middle
        self.add(last, end, 128, 191)


def utf32_to_utf8(automaton: Automaton) -> Automaton:
    return _Utf8().convert(automaton)
