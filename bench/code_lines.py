#!/usr/bin/env python3
"""Instruction cache lines a connection runs, from a callgrind dump.

    code_lines.py CONNECTIONS DUMP [--by-function OBJECT]

DUMP must come from `valgrind --tool=callgrind --dump-instr=yes` over
CONNECTIONS connections of one case (scripts/bench.sh --instructions makes
them). Prints the distinct 64-byte lines of code executed on (nearly) every
connection: a line counts if the instructions executed in it add up to at
least CONNECTIONS / 2, so code run once in the window (a timer, the first
connection) drops out. Per object (nginx, its modules, libc), then in all;
with --by-function OBJECT, per function of the object whose path contains
OBJECT.

Why lines and not instructions: in scripts/bench.sh the worker's CPU also
runs all of loopback's TCP work, and user-space code evicts the kernel's
working set from the caches; each connection's cost grows with the code it
runs, counted in cache lines, more than with its instruction count
(BENCHMARKS.md, "the code a session runs, in cache lines").
"""

import collections
import re
import sys

NAME = re.compile(r"(c?ob|c?fn)=\((\d+)\)(?: (.*))?")


def executed(path):
    """{(object, function): Counter(line -> instructions executed)}"""
    names = {"ob": {}, "fn": {}}
    current = {"ob": "?", "fn": "?"}
    by_place = collections.defaultdict(collections.Counter)
    last = 0
    call_cost_next = False
    with open(path, encoding="utf-8", errors="replace") as dump:
        for raw in dump:
            named = NAME.match(raw)
            if named:
                kind, index, name = named.groups()
                table = names[kind[-2:]]
                if name:
                    table[index] = name.strip()
                if kind in ("ob", "fn"):
                    current[kind] = table.get(index, "?")
                continue
            if raw.startswith("calls="):
                # The next cost line is the call's inclusive cost, booked at
                # the call instruction: not code this function ran itself.
                call_cost_next = True
                continue
            if not raw or raw[0] not in "0123456789+-*":
                continue
            fields = raw.split()
            position = fields[0]
            if position.startswith("0x"):
                address = int(position, 16)
            elif position[0] in "+-":
                step = int(position[1:], 0)
                address = last + step if position[0] == "+" else last - step
            elif position == "*":
                address = last
            else:
                continue
            last = address
            if call_cost_next:
                call_cost_next = False
                continue
            if len(fields) >= 3:
                by_place[(current["ob"], current["fn"])][address >> 6] += int(fields[2])
    return by_place


def main(argv):
    if len(argv) not in (3, 5) or (len(argv) == 5 and argv[3] != "--by-function"):
        sys.exit(__doc__.strip().splitlines()[2].strip())
    connections = int(argv[1])
    by_place = executed(argv[2])
    floor = max(1, connections // 2)
    per_object = collections.defaultdict(collections.Counter)
    per_function = collections.Counter()
    for (obj, function), lines in by_place.items():
        for line, count in lines.items():
            per_object[obj][line] += count
    for obj, lines in per_object.items():
        per_object[obj] = {line for line, count in lines.items() if count >= floor}
    if len(argv) == 5:
        wanted = argv[4]
        for (obj, function), lines in by_place.items():
            if wanted in obj:
                per_function[function] += sum(1 for count in lines.values() if count >= floor)
        for function, count in per_function.most_common():
            if count:
                print(f"{count:5d}  {function[:140]}")
        return
    total = 0
    for obj, lines in sorted(per_object.items(), key=lambda kv: -len(kv[1])):
        if lines:
            total += len(lines)
            print(f"{len(lines):5d}  {obj.rsplit('/', 1)[-1]}")
    print(f"{total:5d}  in all")


if __name__ == "__main__":
    main(sys.argv)
