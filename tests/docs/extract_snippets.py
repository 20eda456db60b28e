#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# Extracts the code snippets of the README and docs/*.md so the tests can build them.
#   extract_snippets.py OUT_DIR CONSUMER_CMAKELISTS FILE.md...
# Every ```cpp block is a complete program: it is written to OUT_DIR/<doc>_<n>.cpp with a
# #line directive, so a compile error names the Markdown file and line. Every ```cmake block
# must be a quote of the consumer project that tests/consumer/run.sh builds: each of its lines
# must appear there (a snippet that drifts from the tested project fails here). ```c++ blocks
# are excerpts of library code, quoted for reading: one whose first line names a file of the
# repository (// autodiff/apply.cpp) must quote it, each line found there (ignoring leading
# space; "..." lines mark cuts). Other fences (bash, text, plain) are prose; an unknown fence
# label is an error, so that a typo cannot hide a snippet.
# Prints the snippet names, separated by semicolons (a CMake list); exits 1 on a bad snippet.
import pathlib
import re
import sys

KNOWN_FENCES = {"cpp", "c++", "cmake", "bash", "text", ""}
REPO = pathlib.Path(__file__).resolve().parents[2]
out_dir = pathlib.Path(sys.argv[1])
consumer_lines = {l.strip() for l in pathlib.Path(sys.argv[2]).read_text().splitlines()}
out_dir.mkdir(parents=True, exist_ok=True)
names, errors = [], []
for md in map(pathlib.Path, sys.argv[3:]):
    lines = md.read_text().splitlines()
    doc = re.sub(r"\W", "_", md.stem.lower())
    fence, start, body = None, 0, []
    for i, line in enumerate(lines, 1):
        stripped = line.strip()
        if fence is None:
            m = re.match(r"^```(\S*)", stripped)
            if m:
                fence, start, body = m.group(1), i, []
            continue
        if stripped != "```":
            body.append(line)
            continue
        if fence not in KNOWN_FENCES:
            errors.append(f"{md}:{start}: unknown fence label ```{fence} (use one of {sorted(KNOWN_FENCES)})")
        elif fence == "c++" and body:
            m = re.match(r"^\s*//\s*(\S+\.(?:cpp|hpp|cu|cuh))\s*$", body[0])
            source = REPO / m.group(1) if m else None
            if source and source.is_file():
                source_lines = {l.strip() for l in source.read_text().splitlines()}
                for j, l in enumerate(body[1:]):
                    t = l.strip()
                    if t and t not in source_lines and "..." not in t:
                        errors.append(f"{md}:{start + 2 + j}: not in {m.group(1)}: {t}")
            elif m:
                errors.append(f"{md}:{start + 1}: the excerpt names {m.group(1)}, which does not exist")
        if fence == "cpp":
            name = f"{doc}_{len([n for n in names if n.startswith(doc + '_')]) + 1}"
            if not any("int main(" in l for l in body):
                errors.append(f"{md}:{start}: a ```cpp snippet must be a whole program with main()")
            text = f'#line {start + 1} "{md.resolve()}"\n' + "\n".join(body) + "\n"
            target = out_dir / f"{name}.cpp"
            if not target.exists() or target.read_text() != text:
                target.write_text(text)
            names.append(name)
        elif fence == "cmake":
            for j, l in enumerate(body):
                if l.strip() and l.strip() not in consumer_lines:
                    errors.append(f"{md}:{start + 1 + j}: cmake line not in tests/consumer: {l.strip()}")
        fence = None
    if fence is not None:
        errors.append(f"{md}:{start}: unclosed ``` block")
if not names:
    errors.append("no ```cpp snippet found in " + ", ".join(sys.argv[3:]))
for stale in out_dir.glob("*.cpp"):
    if stale.stem not in names:
        stale.unlink()
for e in errors:
    print(e, file=sys.stderr)
print(";".join(names), end="")
sys.exit(1 if errors else 0)
