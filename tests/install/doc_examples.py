#!/usr/bin/env python3
"""Compiles every C example of the documentation against the installed clnet,
so that no example can drift from the API (one once called clnet_model_save
with three arguments after it had grown a fourth).

usage: doc_examples.py INCLUDE_DIR README OUT_DIR
  INCLUDE_DIR  the installed clnet/ header folder; README  the README.md;
  OUT_DIR      where the generated sources go. $CC (default cc) compiles,
               pkg-config (set up for the installed prefix) gives the flags.

Where examples are:
  - In a header's comment, a line " * Example" (optionally ": title") starts
    one; its body is the lines indented by three or more spaces after " *",
    blank comment lines included, up to the next less indented line.
  - In the README, each ```c fenced block.

How each is compiled (-std=c11 -Wall -Wextra -Wpedantic -Werror, then linked
with `pkg-config --libs clnet`, so every function it calls must be exported):
  - An example containing "int main(" is a whole program: compiled as is.
  - Any other is a fragment: it becomes the body of a function whose
    parameters are the only names a fragment may use without declaring them
    (PLACEHOLDERS below: the context, a caller's batch and step count, and
    the caller's fail/use/make_batch). The body is an inner block, so a
    fragment may declare its own ctx. Nothing is run: the examples need a
    device, files and the caller's functions.
#line directives make errors point at the file and line the example was
read from (for a header, its installed copy).

Fails when a header or the README has no example: a parser that stopped
finding them must not pass in silence.
"""
import os
import re
import shlex
import subprocess
import sys
import textwrap

PLACEHOLDERS = [
    ("clnet_ctx *ctx", "ctx"),
    ("float *images", "images"),
    ("int32_t *labels", "labels"),
    ("int steps", "steps"),
    ("void (*fail)(const char *msg)", "fail"),
    ("void (*use)(const float *images, const int32_t *labels, int n)", "use"),
    ("void (*make_batch)(float *images, int32_t *labels)", "make_batch"),
]

FRAGMENT = """\
#include <clnet/clnet.h>
#include <clnet/data.h>
#include <stdio.h>

void example({params})
{{
    {voids}
    {{
#line {line} "{file}"
{body}
    }}
}}

int main(void) {{ return 0; }}
"""


def header_examples(path, label):
    """(label, path, first line number, text) of each " * Example" body."""
    lines = open(path, encoding="utf-8").read().split("\n")
    found, i = [], 0
    while i < len(lines):
        if not re.match(r" \* Example\b", lines[i]):
            i += 1
            continue
        i += 1
        start, body = i + 1, []
        while i < len(lines) and (lines[i] == " *"
                                  or lines[i].startswith(" *   ")):
            body.append(lines[i][2:])
            i += 1
        while body and not body[-1].strip():
            body.pop()
        found.append((label, path, start, textwrap.dedent("\n".join(body))))
    return found


def readme_examples(path, label):
    lines = open(path, encoding="utf-8").read().split("\n")
    found, i = [], 0
    while i < len(lines):
        if lines[i].strip() == "```c":
            j = i + 1
            while j < len(lines) and not lines[j].startswith("```"):
                j += 1
            found.append((label, path, i + 2, "\n".join(lines[i + 1:j])))
            i = j
        i += 1
    return found


def source(path, line, text):
    if "int main(" in text:
        return f'#line {line} "{path}"\n{text}\n'
    return FRAGMENT.format(
        params=", ".join(p for p, _ in PLACEHOLDERS),
        voids=" ".join(f"(void){n};" for _, n in PLACEHOLDERS),
        line=line, file=path, body=text)


def main():
    incdir, readme, out = sys.argv[1:4]
    headers = sorted(h for h in os.listdir(incdir) if h.endswith(".h"))
    if not headers:
        sys.exit(f"doctest: no headers in {incdir}")
    examples = []
    for h in headers:
        found = header_examples(os.path.join(incdir, h), f"include/clnet/{h}")
        if not found:
            sys.exit(f'doctest: include/clnet/{h} has no " * Example"')
        examples += found
    found = readme_examples(readme, "README.md")
    if not found:
        sys.exit("doctest: README.md has no ```c block")
    examples += found

    os.makedirs(out, exist_ok=True)
    cc = shlex.split(os.environ.get("CC", "cc"))
    flags = subprocess.run(["pkg-config", "--cflags", "--libs", "clnet"],
                           check=True, capture_output=True,
                           text=True).stdout.split()
    failed = 0
    for n, (label, path, line, text) in enumerate(examples, 1):
        c = os.path.join(out, f"example_{n}.c")
        with open(c, "w", encoding="utf-8") as f:
            f.write(source(path, line, text))
        cmd = cc + ["-std=c11", "-Wall", "-Wextra", "-Wpedantic", "-Werror",
                    c, "-o", c[:-2]] + flags
        r = subprocess.run(cmd, capture_output=True, text=True)
        print(f"doctest: {label}:{line}: {'FAILED' if r.returncode else 'ok'}")
        if r.returncode:
            failed += 1
            sys.stderr.write(r.stdout + r.stderr)
    print(f"doctest: {len(examples) - failed} of {len(examples)} "
          "examples compile")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
