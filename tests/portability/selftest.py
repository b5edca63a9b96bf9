#!/usr/bin/env python3
"""Self-test of tools/check-kernels on made-up kernels: a compile error must
fail on every target, a kernel with more live values than any GPU has
registers must be flagged for spills everywhere, and a program that depends
on CLNET_HAS_FP16 must get one row per side of the guard. This catches a
toolchain update that changes the output formats the parsers read.

usage: selftest.py CHECK_KERNELS PRINT_OPTIONS CACHE_DIR
"""
import os
import re
import subprocess
import sys
import tempfile

BROKEN = 'kernel void broken(global float *y) { y[0] = no_such_function(1.0f); }\n'

GUARDED = """\
#if CLNET_HAS_FP16
#pragma OPENCL EXTENSION cl_khr_fp16 : enable
kernel void halve(global half *y) { y[get_global_id(0)] *= (half)0.5f; }
#endif
kernel void plain(global float *y) { y[get_global_id(0)] *= 0.5f; }
"""


def pressure(n=320):
    """n floats live across a loop: more than 256 VGPRs, 255 NVIDIA
    registers or Intel's 128 GRFs at SIMD8 can hold."""
    s = ['kernel void pressure(global float *y, global const float *x, uint k)',
         '{', 'uint g = get_global_id(0);']
    s += ['float a%d = x[g * %du + %du];' % (i, n, i) for i in range(n)]
    s.append('for (uint t = 0; t < k; t++) {')
    s += ['a%d = a%d * a%d + a%d;' % (i, i, (i * 7 + 1) % n, (i * 13 + 5) % n)
          for i in range(n)]
    s.append('}')
    s.append('y[g] = ' + ' + '.join('a%d' % i for i in range(n)) + ';')
    return '\n'.join(s + ['}']) + '\n'


def main():
    check, print_options, cache = sys.argv[1:4]
    with tempfile.TemporaryDirectory() as d:
        for name, text in (('broken', BROKEN), ('guarded', GUARDED),
                           ('pressure', pressure())):
            with open(os.path.join(d, name + '.cl'), 'w') as f:
                f.write(text)
        md = os.path.join(d, 'K.md')
        p = subprocess.run([sys.executable, check, '--report', '--report-file',
                            md, '--cl-dir', d, '--variants', os.devnull,
                            '--print-options', print_options, '--cache',
                            cache, '-j', '1'],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True)
        out = p.stdout
        report = open(md).read() if os.path.exists(md) else ''
    print(out)
    if p.returncode == 77:
        return 77
    skipped = set(re.findall(r'^NOTICE SKIPPED (\w+):', out, re.M))
    targets = ['tgllp', 'dg2', 'gfx900', 'gfx1030', 'gfx1100', 'nvptx', 'spirv']
    live = [t for t in targets if t not in skipped]
    problems = []
    if p.returncode != 1:
        problems.append('exit status %d, expected 1' % p.returncode)
    for t in live:
        if 'FAIL %s broken [base]' % t not in out:
            problems.append('%s: compile error not reported' % t)
        spills = t != 'spirv' and not (t == 'nvptx' and 'ptxas not found' in out)
        if spills and not re.search(r'^FLAG pressure/pressure \[base\] on %s: '
                                    r'.*spill' % t, out, re.M):
            problems.append('%s: spills not flagged' % t)
    for row in ('| guarded | plain | fp16=0 |', '| guarded | plain | fp16=1 |',
                '| guarded | halve | fp16=1 |'):
        if row not in report:
            problems.append('report lacks row ' + row)
    nv = report.split('### NVIDIA', 1)[-1].split('###', 1)[0]
    if 'nvptx' in live and '| guarded | halve | fp16=1 | n/a' not in nv:
        problems.append('nvptx: fp16=1 row not marked n/a')
    for msg in problems:
        print('SELFTEST FAILED: ' + msg)
    return 1 if problems else 0


if __name__ == '__main__':
    sys.exit(main())
