"""What to compile: programs, their registered option sets, guard rows.

A row is one (program, extra options, values of the guards the program
depends on). Which guards matter is found by preprocessing the program with
each guard combination: if flipping CLNET_HAS_FP16 leaves the preprocessed
text unchanged, compiling both sides would only repeat the same work, so the
row keeps the guard at each target's native value instead.
"""
import glob
import hashlib
import itertools
import json
import os
import re
import shlex
import tempfile

from targets import GUARDS
from toolchains import run

KERNEL_RE = re.compile(r'\b(?:__)?kernel\b[^;{}]*?\bvoid\s+'
                       r'(?:__attribute__\s*\(\(.*?\)\)\s*)?(\w+)\s*\(')
PARAM_RE = re.compile(r'^\s*#\s*ifndef\s+(\w+)\s*\n\s*#\s*define\s+\1\b', re.M)


class Row:
    def __init__(self, program, extra, guards, kernels):
        self.program, self.extra = program, extra
        self.guards, self.kernels = guards, kernels
        parts = ([extra] if extra else []) + \
            ['%s=%d' % kv for kv in sorted(guards.items())]
        self.label = ' '.join(parts) or 'base'


class Cache:
    """Results by content hash, one JSON file each, written atomically so
    parallel test processes can share the directory."""

    def __init__(self, path):
        self.path = path
        if path:
            os.makedirs(path, exist_ok=True)

    def get(self, key):
        if not self.path:
            return None
        try:
            with open(os.path.join(self.path, key + '.json')) as f:
                return json.load(f)
        except (OSError, ValueError):
            return None  # absent or corrupt: recompute

    def put(self, key, obj):
        if not self.path:
            return
        fd, tmp = tempfile.mkstemp(dir=self.path, suffix='.tmp')
        with os.fdopen(fd, 'w') as f:
            json.dump(obj, f)
        os.replace(tmp, os.path.join(self.path, key + '.json'))


def digest(*parts):
    h = hashlib.sha256()
    for p in parts:
        h.update(p.encode() if isinstance(p, str) else p)
        h.update(b'\0')
    return h.hexdigest()[:32]


def programs(cl_dir):
    return sorted(os.path.basename(p)[:-3]
                  for p in glob.glob(os.path.join(cl_dir, '*.cl')))


def source_digest(cl_dir, program):
    """Hash of a program and every header it could include."""
    parts = []
    for f in [os.path.join(cl_dir, program + '.cl')] + \
            sorted(glob.glob(os.path.join(cl_dir, '*.h'))):
        with open(f, 'rb') as fh:
            parts += [os.path.basename(f), fh.read()]
    return digest(*parts)


def expand_braces(text):
    """'-DA={1,2} -DB={x,y}' -> the four combinations, in order."""
    m = re.search(r'\{([^{}]*)\}', text)
    if not m:
        return [text]
    out = []
    for alt in m.group(1).split(','):
        out += expand_braces(text[:m.start()] + alt.strip() + text[m.end():])
    return out


def load_variants(path, known):
    """{program: [extra option strings]} and a list of errors."""
    variants, errors = {}, []
    if not os.path.exists(path):
        return variants, errors
    with open(path) as f:
        for n, line in enumerate(f, 1):
            line = line.split('#', 1)[0].strip()
            if not line:
                continue
            prog, _, extra = line.partition(' ')
            if prog not in known:
                errors.append('%s:%d: no program cl/%s.cl' % (path, n, prog))
                continue
            for e in expand_braces(extra.strip()):
                lst = variants.setdefault(prog, [])
                if e not in lst:
                    lst.append(e)
    return variants, errors


def uncovered_parameters(cl_dir, program, extras):
    """Kernel parameters (#ifndef X / #define X) no registered option sets;
    CLNET_* capability macros come from the library and are not listed."""
    with open(os.path.join(cl_dir, program + '.cl')) as f:
        params = PARAM_RE.findall(f.read())
    given = set(re.findall(r'-D\s*(\w+)', ' '.join(extras)))
    return [p for p in params if not p.startswith('CLNET_')
            and not p.endswith('_H') and p not in given]


def guard_combos():
    return [dict(zip(GUARDS, vals))
            for vals in itertools.product((0, 1), repeat=len(GUARDS))]


def combo_key(g):
    return tuple(g[k] for k in GUARDS)


def preprocess(tools, cl_dir, program, options, cache):
    """(hash of the preprocessed text, kernel names) for one option set."""
    src = os.path.join(cl_dir, program + '.cl')
    key = digest('pp', tools.fingerprint('spirv'), options,
                 source_digest(cl_dir, program))
    hit = cache.get(key)
    if hit:
        return hit['hash'], hit['kernels']
    rc, out = run([tools.clang, '-E', '-P', '-x', 'cl', '-target', 'spir64',
                   '-I', cl_dir] + shlex.split(options) + [src])
    # A source that does not even preprocess gets one row per combination
    # and fails properly in the compile step.
    text = out if rc == 0 else options
    res = {'hash': digest(text), 'kernels': KERNEL_RE.findall(text)}
    cache.put(key, res)
    return res['hash'], res['kernels']


def rows_for(tools, cl_dir, program, extra, spirv_opts, cache):
    """spirv_opts: {combo_key: base option string} for every combination."""
    combos = guard_combos()
    if not tools.clang:
        with open(os.path.join(cl_dir, program + '.cl')) as f:
            names = KERNEL_RE.findall(f.read())
        return [Row(program, extra, c, names) for c in combos]
    seen = {}
    for c in combos:
        opts = spirv_opts[combo_key(c)] + (' ' + extra if extra else '')
        seen[combo_key(c)] = preprocess(tools, cl_dir, program, opts, cache)
    relevant = []
    for g in GUARDS:
        for c in combos:
            other = dict(c, **{g: 1 - c[g]})
            if seen[combo_key(c)][0] != seen[combo_key(other)][0]:
                relevant.append(g)
                break
    rows = []
    for vals in itertools.product((0, 1), repeat=len(relevant)):
        guards = dict(zip(relevant, vals))
        full = dict((g, guards.get(g, 1)) for g in GUARDS)
        rows.append(Row(program, extra, guards, seen[combo_key(full)][1]))
    return rows
