"""A deterministic cost for code that uses regular expressions: steps, not seconds.

Python's `re` runs in C and reports no work, so a test cannot see it backtrack without a
clock. This module re-runs every regular expression of a module in a small backtracking
matcher written in Python over `re`'s own parse tree (the same nodes, tried in the same
order as `re` tries them), counting one step per node attempt and per character a
repetition consumes. Each call also runs the real `re` and checks that both found the same
matches, so the count is of the regular expressions the code really runs, and a divergence
of this matcher from `re` fails loudly instead of counting something else.

`counting_copy("pkg.module")` loads a fresh copy of a module whose `import re` binds the
counting facade; `Cost()` then counts its regex steps plus the Python lines it runs.
"""

from __future__ import annotations

import importlib.util
import os
import re
import sys
import types
from collections.abc import Callable, Iterator
from re import _constants as c  # type: ignore[attr-defined]
from re import _parser as sre_parse  # type: ignore[attr-defined]
from typing import Any

Cont = Callable[[int], bool]
Node = Callable[[str, int, Cont], bool]


class Counter:
    """Steps taken by the counting matcher since the last reset."""

    steps = 0


def _word(ch: str) -> bool:
    return ch.isalnum() or ch == "_"


CATEGORIES: dict[Any, Callable[[str], bool]] = {
    c.CATEGORY_DIGIT: str.isdecimal,
    c.CATEGORY_NOT_DIGIT: lambda ch: not ch.isdecimal(),
    c.CATEGORY_SPACE: str.isspace,
    c.CATEGORY_NOT_SPACE: lambda ch: not ch.isspace(),
    c.CATEGORY_WORD: _word,
    c.CATEGORY_NOT_WORD: lambda ch: not _word(ch),
}


def _char_test(op: Any, arg: Any, ignore_case: bool, dotall: bool = False) -> Callable[[str], bool]:
    """A one-character test for LITERAL, NOT_LITERAL, ANY or IN."""
    fold = str.lower if ignore_case else (lambda ch: ch)
    if op is c.LITERAL:
        want = fold(chr(arg))
        return lambda ch: fold(ch) == want
    if op is c.NOT_LITERAL:
        want = fold(chr(arg))
        return lambda ch: fold(ch) != want
    if op is c.ANY:
        return (lambda ch: True) if dotall else (lambda ch: ch != "\n")
    negate = any(o is c.NEGATE for o, _ in arg)
    tests = []
    for o, a in arg:
        if o is c.LITERAL:
            want = fold(chr(a))
            tests.append(lambda ch, w=want: fold(ch) == w)
        elif o is c.RANGE:
            lo, hi = a
            if ignore_case:
                tests.append(lambda ch, lo=lo, hi=hi: any(lo <= ord(x) <= hi for x in _cases(ch)))
            else:
                tests.append(lambda ch, lo=lo, hi=hi: lo <= ord(ch) <= hi)
        elif o is c.CATEGORY:
            tests.append(CATEGORIES[a])
        elif o is not c.NEGATE:
            raise NotImplementedError(f"character set item {o}")
    return lambda ch: any(t(ch) for t in tests) != negate


def _cases(ch: str) -> set[str]:
    return {ch, ch.lower(), ch.upper()}


def _at(kind: Any) -> Callable[[str, int], bool]:
    if kind in (c.AT_BEGINNING, c.AT_BEGINNING_STRING):
        return lambda s, i: i == 0
    if kind is c.AT_END:
        return lambda s, i: i == len(s) or (i == len(s) - 1 and s[i] == "\n")
    if kind is c.AT_END_STRING:
        return lambda s, i: i == len(s)
    if kind in (c.AT_BOUNDARY, c.AT_NON_BOUNDARY):
        want = kind is c.AT_BOUNDARY

        def boundary(s: str, i: int) -> bool:
            before = i > 0 and _word(s[i - 1])
            after = i < len(s) and _word(s[i])
            return (before != after) == want and bool(s)

        return boundary
    raise NotImplementedError(f"anchor {kind}")


def _sequence(items: list[Node]) -> Node:
    def run(s: str, i: int, k: Cont, n: int = 0) -> bool:
        if n == len(items):
            return k(i)
        return items[n](s, i, lambda j: run(s, j, k, n + 1))

    return lambda s, i, k: run(s, i, k)


Captures = dict[int, tuple[int, int]]


def _compile(tree: Any, flags: int, caps: Captures) -> Node:
    ignore_case, dotall = bool(flags & re.IGNORECASE), bool(flags & re.DOTALL)
    nodes: list[Node] = []
    for op, arg in tree:
        if op in (c.LITERAL, c.NOT_LITERAL, c.ANY, c.IN):
            nodes.append(_one_char(_char_test(op, arg, ignore_case, dotall)))
        elif op is c.AT:
            nodes.append(_anchor(_at(arg)))
        elif op is c.BRANCH:
            nodes.append(_branch([_compile(alt, flags, caps) for alt in arg[1]]))
        elif op is c.SUBPATTERN:
            group, add, remove, inner = arg
            body = _compile(inner, (flags | add) & ~remove, caps)
            nodes.append(_capture(body, group, caps) if group else body)
        elif op in (c.MAX_REPEAT, c.MIN_REPEAT):
            low, high, inner = arg
            nodes.append(_repeat(inner, flags, low, high, op is c.MAX_REPEAT, caps))
        elif op in (c.ASSERT, c.ASSERT_NOT):
            direction, inner = arg
            nodes.append(_assert(inner, flags, direction, op is c.ASSERT, caps))
        elif op is c.GROUPREF:
            nodes.append(_backreference(arg, caps, ignore_case))
        else:
            raise NotImplementedError(f"regex node {op}")
    return _sequence(nodes)


def _capture(body: Node, group: int, caps: Captures) -> Node:
    def node(s: str, i: int, k: Cont) -> bool:
        def close(j: int) -> bool:
            before = caps.get(group)
            caps[group] = (i, j)
            if k(j):
                return True
            if before is None:
                caps.pop(group, None)
            else:
                caps[group] = before
            return False

        return body(s, i, close)

    return node


def _backreference(group: int, caps: Captures, ignore_case: bool) -> Node:
    def node(s: str, i: int, k: Cont) -> bool:
        Counter.steps += 1
        if group not in caps:
            return False
        start, end = caps[group]
        text, here = s[start:end], s[i : i + end - start]
        Counter.steps += len(text)
        same = here.lower() == text.lower() if ignore_case else here == text
        return len(here) == len(text) and same and k(i + len(text))

    return node


def _one_char(test: Callable[[str], bool]) -> Node:
    def node(s: str, i: int, k: Cont) -> bool:
        Counter.steps += 1
        return i < len(s) and test(s[i]) and k(i + 1)

    node.char_test = test  # type: ignore[attr-defined]
    return node


def _anchor(test: Callable[[str, int], bool]) -> Node:
    def node(s: str, i: int, k: Cont) -> bool:
        Counter.steps += 1
        return test(s, i) and k(i)

    return node


def _branch(alternatives: list[Node]) -> Node:
    def node(s: str, i: int, k: Cont) -> bool:
        Counter.steps += 1
        return any(alt(s, i, k) for alt in alternatives)

    return node


def _repeat(inner: Any, flags: int, low: int, high: int, greedy: bool, caps: Captures) -> Node:
    body = _compile(inner, flags, caps)
    single = len(inner) == 1 and inner[0][0] in (c.LITERAL, c.NOT_LITERAL, c.ANY, c.IN)
    if single:  # like re's REPEAT_ONE: consume a run, then give back one at a time
        ignore_case, dotall = bool(flags & re.IGNORECASE), bool(flags & re.DOTALL)
        test = _char_test(inner[0][0], inner[0][1], ignore_case, dotall)

        def one(s: str, i: int, k: Cont) -> bool:
            end = i
            limit = len(s) if high == c.MAXREPEAT else min(len(s), i + high)
            while end < limit and test(s[end]):
                end += 1
                Counter.steps += 1
            if end - i < low:
                return False
            counts = range(end, i + low - 1, -1) if greedy else range(i + low, end + 1)
            for j in counts:
                Counter.steps += 1
                if k(j):
                    return True
            return False

        return one

    def general(s: str, i: int, k: Cont, done: int = 0) -> bool:
        Counter.steps += 1

        def again(j: int) -> bool:
            return j != i and general(s, j, k, done + 1)  # an empty pass would loop

        more = high == c.MAXREPEAT or done < high
        if done < low:
            return body(s, i, again)
        if greedy:
            return (more and body(s, i, again)) or k(i)
        return k(i) or (more and body(s, i, again))

    return lambda s, i, k: general(s, i, k)


def _assert(inner: Any, flags: int, direction: int, positive: bool, caps: Captures) -> Node:
    body = _compile(inner, flags, caps)
    width = sre_parse.SubPattern(sre_parse.State(), inner).getwidth()[0] if direction < 0 else 0

    def node(s: str, i: int, k: Cont) -> bool:
        Counter.steps += 1
        if direction < 0:
            start = i - width
            found = start >= 0 and body(s, start, lambda j: j == i)
        else:
            found = body(s, i, lambda j: True)
        return found == positive and k(i)

    return node


class CountingPattern:
    """A compiled pattern whose every match is found twice: counted, and by `re`."""

    def __init__(self, pattern: str, flags: int = 0) -> None:
        self.real = re.compile(pattern, flags)
        self.pattern, self.flags, self.groupindex = pattern, self.real.flags, self.real.groupindex
        self.groups = self.real.groups
        self.caps: Captures = {}
        self.node = _compile(sre_parse.parse(pattern, flags), self.real.flags, self.caps)

    def _match_at(
        self, s: str, i: int, require_end: int | None = None, non_empty: bool = False
    ) -> int | None:
        end: list[int] = []
        self.caps.clear()

        def k(j: int) -> bool:
            if (require_end is not None and j != require_end) or (non_empty and j == i):
                return False
            end.append(j)
            return True

        return end[0] if self.node(s, i, k) else None

    def _spans(self, s: str) -> Iterator[tuple[int, int]]:
        """Every match re.finditer finds: after an empty match, the next one must not be
        empty at the same place (Python 3.7's rule)."""
        i, must_advance = 0, False
        while i <= len(s):
            for start in range(i, len(s) + 1):
                Counter.steps += 1
                end = self._match_at(s, start, non_empty=must_advance and start == i)
                if end is not None:
                    break
            else:
                return
            yield start, end
            must_advance, i = end == start, end

    def _check(self, counted: list[tuple[int, int]], real: list[tuple[int, int]]) -> None:
        if counted != real:
            raise AssertionError(f"counting matcher differs from re on {self.pattern!r}")

    def search(self, s: str) -> re.Match[str] | None:
        spans = self._spans(s)
        first = next(spans, None)
        found = self.real.search(s)
        self._check([first] if first else [], [found.span()] if found else [])
        return found

    def match(self, s: str) -> re.Match[str] | None:
        end = self._match_at(s, 0)
        found = self.real.match(s)
        self._check([(0, end)] if end is not None else [], [found.span()] if found else [])
        return found

    def fullmatch(self, s: str) -> re.Match[str] | None:
        end = self._match_at(s, 0, require_end=len(s))
        found = self.real.fullmatch(s)
        self._check([(0, end)] if end is not None else [], [found.span()] if found else [])
        return found

    def _all(self, s: str) -> None:
        self._check(list(self._spans(s)), [m.span() for m in self.real.finditer(s)])

    def finditer(self, s: str) -> Iterator[re.Match[str]]:
        self._all(s)
        return self.real.finditer(s)

    def findall(self, s: str) -> list[Any]:
        self._all(s)
        return self.real.findall(s)

    def sub(self, repl: Any, s: str, count: int = 0) -> str:
        self._all(s)
        return self.real.sub(repl, s, count)

    def split(self, s: str, maxsplit: int = 0) -> list[str]:
        self._all(s)
        return self.real.split(s, maxsplit)


def _facade() -> types.ModuleType:
    """A stand-in for `re` whose patterns count their steps."""
    facade = types.ModuleType("re")
    for name in (
        "IGNORECASE",
        "I",
        "MULTILINE",
        "M",
        "DOTALL",
        "S",
        "VERBOSE",
        "X",
        "UNICODE",
        "ASCII",
        "A",
        "Match",
        "Pattern",
        "escape",
        "error",
        "NOFLAG",
        "RegexFlag",
    ):
        setattr(facade, name, getattr(re, name))

    def compile_(pattern: Any, flags: int = 0) -> CountingPattern:
        return pattern if isinstance(pattern, CountingPattern) else CountingPattern(pattern, flags)

    facade.compile = compile_  # type: ignore[attr-defined]
    for method in ("search", "match", "fullmatch", "finditer", "findall", "split"):
        setattr(
            facade,
            method,
            lambda p, s, *a, flags=0, m=method: getattr(compile_(p, flags), m)(s, *a),
        )
    facade.sub = lambda p, repl, s, count=0, flags=0: compile_(p, flags).sub(repl, s, count)  # type: ignore[attr-defined]
    return facade


def counting_copy(name: str, *, using: tuple[types.ModuleType, ...] = ()) -> types.ModuleType:
    """A fresh copy of module `name` whose `import re` binds the counting facade; `using`:
    counting copies of modules it imports names from, which it then imports instead (every
    other module stays as it is)."""
    importlib.import_module(name)  # its own imports load first, with the real `re`
    spec = importlib.util.find_spec(name)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    swapped = {"re": _facade(), **{m.__name__: m for m in using}}
    real = {key: sys.modules[key] for key in swapped}
    sys.modules.update(swapped)
    try:
        spec.loader.exec_module(module)
    finally:
        sys.modules.update(real)
    return module


NOT_COUNTED = (__file__, os.path.dirname(re.__file__))  # this matcher, and re compiling


class Cost:
    """The deterministic cost of one call: regex steps plus the Python lines it runs (its
    own and its callees', but not this matcher's or `re`'s compiler's)."""

    def __init__(self) -> None:
        self.lines = 0

    def _trace(self, frame: Any, event: str, arg: Any) -> Any:
        if event == "call" and frame.f_code.co_filename.startswith(NOT_COUNTED):
            return None
        if event == "line":
            self.lines += 1
        return self._trace

    def of(self, fn: Callable[..., Any], *args: Any) -> int:
        """Run `fn(*args)` and return its cost."""
        Counter.steps, self.lines = 0, 0
        limit = sys.getrecursionlimit()
        sys.setrecursionlimit(max(limit, 20_000))
        sys.settrace(self._trace)
        try:
            fn(*args)
        finally:
            sys.settrace(None)
            sys.setrecursionlimit(limit)
        return Counter.steps + self.lines
