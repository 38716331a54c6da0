"""Lucene 9's automata and the operations on them that can refuse a query for its size, counted as Lucene counts.

Used by deployer.dialects.lucene_limits, which builds a regexp's or wildcard's automaton with them. OpenSearch 2.19
(Lucene 9.12) builds a `regexp` query with `new RegexpQuery(term, ALL, match_flags, DEFAULT_PROVIDER,
max_determinized_states = 10000, ...)`: RegExp.toAutomaton makes every sub-expression's automaton and minimizes it
(each minimization determinizes), then the query's CompiledAutomaton determinizes the result. Operations.determinize
adds up, for every state of the deterministic automaton it builds, how many states of the input that state stands
for, and throws TooComplexToDeterminizeException once the sum reaches ten times the limit; the counted repetitions
`{n}`, `{n,}`, `{n,m}` refuse early when (states - 1) x count exceeds the limit. This module ports Operations'
union, concatenate, optional, repeat, intersection, complement, determinize (with its effort count), totalize,
removeDeadStates, and minimization to the same minimal automaton Hopcroft's algorithm yields. State counts and the
deterministic flag are kept as Lucene keeps them: the repetition checks depend on them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

DEFAULT_DETERMINIZE_WORK_LIMIT = 10_000
"""Operations.DEFAULT_DETERMINIZE_WORK_LIMIT: the `max_determinized_states` a regexp query gets by default."""
MAX_CODE_POINT = 0x10FFFF

Transition = tuple[int, int, int]  # (min, max, dest), code points inclusive


class TooComplex(Exception):
    """Lucene's TooComplexToDeterminizeException: the automaton needs more work than the limit allows."""


@dataclass
class Automaton:
    """A Lucene Automaton: state 0 is initial; each state's transitions merged and sorted as Lucene finishes them."""

    accept: list[bool]
    transitions: list[list[Transition]]
    deterministic: bool

    @property
    def states(self) -> int:
        return len(self.accept)


def _finish_state(transitions: Iterable[Transition]) -> tuple[list[Transition], bool]:
    """Automaton.finishCurrentState: merge touching ranges to one destination, sort by (min, max, dest), and tell
    whether ranges overlap (Lucene's test compares each min with the previous range's max only)."""
    merged: list[Transition] = []
    for low, high, dest in sorted(transitions, key=lambda t: (t[2], t[0], t[1])):
        if merged and merged[-1][2] == dest and low <= merged[-1][1] + 1:
            if high > merged[-1][1]:
                merged[-1] = (merged[-1][0], high, dest)
        else:
            merged.append((low, high, dest))
    merged.sort()
    deterministic = all(merged[i][0] > merged[i - 1][1] for i in range(1, len(merged)))
    return merged, deterministic


def build(accept: list[bool], raw: list[list[Transition]]) -> Automaton:
    finished = [_finish_state(state) for state in raw]
    return Automaton(list(accept), [transitions for transitions, _ in finished], all(ok for _, ok in finished))


def _copy_into(accept: list[bool], raw: list[list[Transition]], other: Automaton) -> int:
    """Append `other`'s states; returns their offset."""
    offset = len(accept)
    accept += other.accept
    raw += [[(low, high, dest + offset) for low, high, dest in state] for state in other.transitions]
    return offset


# --- Automata -----------------------------------------------------------------------------------------------------

def make_empty() -> Automaton:
    return Automaton([], [], True)


def make_empty_string() -> Automaton:
    return Automaton([True], [[]], True)


def make_any_string() -> Automaton:
    return Automaton([True], [[(0, MAX_CODE_POINT, 0)]], True)


def make_char_range(low: int, high: int) -> Automaton:
    if low > high:
        return make_empty()
    return Automaton([False, True], [[(low, high, 1)], []], True)


def make_string(text: str) -> Automaton:
    codes = [ord(char) for char in text]
    return Automaton([False] * len(codes) + [True], [[(code, code, index + 1)] for index, code in enumerate(codes)] + [[]],
                     True)


# --- Operations ---------------------------------------------------------------------------------------------------

def concatenate(parts: list[Automaton]) -> Automaton:
    """Operations.concatenate: every part's states in a row; an accept state also takes the next part's first steps."""
    accept: list[bool] = []
    for part in parts:
        if part.states == 0:
            return Automaton(accept, [[] for _ in accept], True)
        accept += [False] * part.states
    raw: list[list[Transition]] = [[] for _ in accept]
    offset = 0
    for index, part in enumerate(parts):
        following = parts[index + 1] if index + 1 < len(parts) else None
        for state in range(part.states):
            raw[offset + state] += [(low, high, offset + dest) for low, high, dest in part.transitions[state]]
            if not part.accept[state]:
                continue
            follow, follow_offset, upto = following, offset, index + 1
            while True:
                if follow is None:
                    accept[offset + state] = True
                    break
                raw[offset + state] += [(low, high, follow_offset + part.states + dest)
                                        for low, high, dest in follow.transitions[0]]
                if not follow.accept[0]:
                    break
                follow_offset += follow.states
                follow = None if upto == len(parts) - 1 else parts[upto + 1]
                upto += 1
        offset += part.states
    if not accept:
        return Automaton([False], [[]], True)
    return build(accept, raw)


def union(parts: list[Automaton]) -> Automaton:
    accept: list[bool] = [False]
    raw: list[list[Transition]] = [[]]
    offsets = [_copy_into(accept, raw, part) for part in parts]
    for part, offset in zip(parts, offsets, strict=True):
        if part.states:
            raw[0] += [(low, high, dest + offset) for low, high, dest in part.transitions[0]]
            accept[0] = accept[0] or part.accept[0]
    return remove_dead_states(build(accept, raw))


def optional(automaton: Automaton) -> Automaton:
    accept: list[bool] = [True]
    raw: list[list[Transition]] = [[]]
    if automaton.states:
        _copy_into(accept, raw, automaton)
        raw[0] += [(low, high, dest + 1) for low, high, dest in automaton.transitions[0]]
    return build(accept, raw)


def repeat(automaton: Automaton) -> Automaton:
    """Kleene star."""
    if automaton.states == 0:
        return automaton
    accept: list[bool] = [True]
    raw: list[list[Transition]] = [[]]
    _copy_into(accept, raw, automaton)
    first = [(low, high, dest + 1) for low, high, dest in automaton.transitions[0]]
    raw[0] += first
    for state in range(automaton.states):
        if automaton.accept[state]:
            raw[state + 1] += first
    return build(accept, raw)


def repeat_min(automaton: Automaton, count: int) -> Automaton:
    if count == 0:
        return repeat(automaton)
    return concatenate([automaton] * count + [repeat(automaton)])


def repeat_range(automaton: Automaton, low: int, high: int) -> Automaton:
    if low > high:
        return make_empty()
    if low == 0:
        start = make_empty_string()
    elif low == 1:
        start = automaton
    else:
        start = concatenate([automaton] * low)
    accept: list[bool] = []
    raw: list[list[Transition]] = []
    _copy_into(accept, raw, start)
    previous = [state for state in range(start.states) if start.accept[state]]
    for _ in range(low, high):
        offset = _copy_into(accept, raw, automaton)
        for state in previous:
            raw[state] += [(a, b, dest + offset) for a, b, dest in automaton.transitions[0]] if automaton.states else []
            if automaton.states and automaton.accept[0]:
                accept[state] = True
        previous = [offset + state for state in range(automaton.states) if automaton.accept[state]]
    return build(accept, raw)


def totalize(automaton: Automaton) -> Automaton:
    """Every state gets a transition for every code point: the missing ones lead to a new dead state."""
    dead = automaton.states
    raw: list[list[Transition]] = []
    for transitions in automaton.transitions:
        state: list[Transition] = []
        reached = 0
        for low, high, dest in transitions:
            state.append((low, high, dest))
            if low > reached:
                state.append((reached, low - 1, dead))
            reached = max(reached, high + 1)
        if reached <= MAX_CODE_POINT:
            state.append((reached, MAX_CODE_POINT, dead))
        raw.append(state)
    raw.append([(0, MAX_CODE_POINT, dead)])
    return build([*automaton.accept, False], raw)


def remove_dead_states(automaton: Automaton) -> Automaton:
    """Keep the states reachable from state 0 that can reach an accept state, in their order."""
    if automaton.states == 0:
        return build([], [])
    reachable = {0}
    work = [0]
    while work:
        for _, _, dest in automaton.transitions[work.pop()]:
            if dest not in reachable:
                reachable.add(dest)
                work.append(dest)
    incoming: list[list[int]] = [[] for _ in automaton.accept]
    for source, transitions in enumerate(automaton.transitions):
        for _, _, dest in transitions:
            incoming[dest].append(source)
    productive = {state for state in range(automaton.states) if automaton.accept[state]}
    work = list(productive)
    while work:
        for source in incoming[work.pop()]:
            if source not in productive:
                productive.add(source)
                work.append(source)
    live = [state for state in range(automaton.states) if state in reachable and state in productive]
    number = {state: index for index, state in enumerate(live)}
    return build([automaton.accept[state] for state in live],
                  [[(low, high, number[dest]) for low, high, dest in automaton.transitions[state] if dest in number]
                   for state in live])


def intersection(first: Automaton, second: Automaton) -> Automaton:
    if first is second or first.states == 0:
        return first
    if second.states == 0:
        return second
    pairs = {(0, 0): 0}
    order = [(0, 0)]
    raw: list[list[Transition]] = [[]]
    accept: list[bool] = []
    position = 0
    while position < len(order):
        state_1, state_2 = order[position]
        accept.append(first.accept[state_1] and second.accept[state_2])
        transitions_2 = second.transitions[state_2]
        start = 0
        for low_1, high_1, dest_1 in first.transitions[state_1]:
            while start < len(transitions_2) and transitions_2[start][1] < low_1:
                start += 1
            index = start
            while index < len(transitions_2) and high_1 >= transitions_2[index][0]:
                low_2, high_2, dest_2 = transitions_2[index]
                if high_2 >= low_1:
                    target = pairs.get((dest_1, dest_2))
                    if target is None:
                        target = pairs[(dest_1, dest_2)] = len(order)
                        order.append((dest_1, dest_2))
                        raw.append([])
                    raw[position].append((max(low_1, low_2), min(high_1, high_2), target))
                index += 1
        position += 1
    return remove_dead_states(build(accept, raw))


def complement(automaton: Automaton, limit: int) -> Automaton:
    total = totalize(determinize(automaton, limit))
    return remove_dead_states(Automaton([not accept for accept in total.accept], total.transitions, total.deterministic))


def determinize(automaton: Automaton, limit: int) -> Automaton:
    """Subset construction, charging each new state's subset size to the effort as Lucene does."""
    if automaton.deterministic or automaton.states <= 1:
        return automaton
    effort_limit = limit * 10
    effort = 0
    initial: tuple[int, ...] = (0,)
    numbers = {initial: 0}
    order = [initial]
    accept = [automaton.accept[0]]
    raw: list[list[Transition]] = [[]]
    position = 0
    while position < len(order):
        subset = order[position]
        effort += len(subset)
        if effort >= effort_limit:
            raise TooComplex(f"determinizing its automaton needs more than {limit} effort (max_determinized_states)")
        changes: dict[int, list[tuple[int, int]]] = {}
        for member in subset:
            for low, high, dest in automaton.transitions[member]:
                changes.setdefault(low, []).append((dest, 1))
                changes.setdefault(high + 1, []).append((dest, -1))
        counts: dict[int, int] = {}
        last = -1
        for point in sorted(changes):
            if counts:
                target = tuple(sorted(counts))
                number = numbers.get(target)
                if number is None:
                    number = numbers[target] = len(order)
                    order.append(target)
                    accept.append(any(automaton.accept[state] for state in target))
                    raw.append([])
                raw[position].append((last, point - 1, number))
            for dest, step in changes[point]:
                count = counts.get(dest, 0) + step
                if count:
                    counts[dest] = count
                else:
                    del counts[dest]
            last = point
        position += 1
    return build(accept, raw)


def minimize(automaton: Automaton, limit: int) -> Automaton:
    """MinimizationOperations.minimize: determinize, then the minimal automaton without dead states."""
    if automaton.states == 0 or (not automaton.accept[0] and not automaton.transitions[0]):
        return make_empty()
    automaton = determinize(automaton, limit)
    if automaton.transitions[0] == [(0, MAX_CODE_POINT, 0)]:
        return automaton
    total = totalize(automaton)
    blocks = _coarsest_partition(total)
    count = max(blocks) + 1
    # The block of state 0 becomes state 0, as Lucene's result numbers it; transitions come from one member each.
    order = [blocks[0], *sorted(set(blocks) - {blocks[0]})]
    number = {block: index for index, block in enumerate(order)}
    representative: dict[int, int] = {}
    for state, block in enumerate(blocks):
        representative.setdefault(block, state)
    accept = [total.accept[representative[block]] for block in order]
    raw = [[(low, high, number[blocks[dest]]) for low, high, dest in total.transitions[representative[block]]]
           for block in order]
    assert len(accept) == count
    return remove_dead_states(build(accept, raw))


def _coarsest_partition(total: Automaton) -> list[int]:
    """The block of each state of a total deterministic automaton: Hopcroft's coarsest stable partition."""
    points = sorted({low for transitions in total.transitions for low, _, _ in transitions})
    successor: list[list[int]] = []
    for transitions in total.transitions:
        row, index = [], 0
        for point in points:
            while transitions[index][1] < point:
                index += 1
            row.append(transitions[index][2])
        successor.append(row)
    predecessors: list[list[list[int]]] = [[[] for _ in total.accept] for _ in points]
    for state, row in enumerate(successor):
        for symbol, dest in enumerate(row):
            predecessors[symbol][dest].append(state)
    block_of = [0 if accept else 1 for accept in total.accept]
    members: list[set[int]] = [{s for s, b in enumerate(block_of) if b == 0}, {s for s, b in enumerate(block_of) if b == 1}]
    if not members[0] or not members[1]:
        return [0] * total.states
    waiting = {0 if len(members[0]) <= len(members[1]) else 1}
    while waiting:
        splitter = list(members[waiting.pop()])
        for symbol in range(len(points)):
            touched: dict[int, set[int]] = {}
            for dest in splitter:
                for source in predecessors[symbol][dest]:
                    touched.setdefault(block_of[source], set()).add(source)
            for block, inside in touched.items():
                if len(inside) == len(members[block]):
                    continue
                new = len(members)
                members[block] -= inside
                members.append(inside)
                for state in inside:
                    block_of[state] = new
                if block in waiting or len(inside) <= len(members[block]):
                    waiting.add(new)
                else:
                    waiting.add(block)
    return block_of
