"""Finding the offline GPU compilers and compiling one program with them.

compile_program(...) returns a dict: ok, log (errors, or the warnings of a
successful build), notices (things the reader should know, e.g. a step
skipped) and kernels {name: metrics}. Metrics per vendor:
  intel  simd, grf, slm, scratch (bytes/thread: private arrays or spills),
         private (bytes/work-item), spill (bytes IGC says it spilled)
  amd    sgpr, vgpr, sgpr_spill, vgpr_spill, scratch (bytes/lane), lds, occ
  nvidia {arch: {regs, spill_st, spill_ld, smem, stack}} per ptxas arch
  spirv  nothing but validity
"""
import glob
import os
import re
import shlex
import shutil
import subprocess
import tempfile

import intel_bin

LLVM = '15'  # Debian 12's LLVM, matching libclc-15 and llvm-spirv-15


def run(cmd, cwd=None):
    p = subprocess.run(cmd, cwd=cwd, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, errors='replace')
    return p.returncode, p.stdout


# A diagnostic header: "file:line:col: kind: message". ocloc names the file
# "1", clang the path; remarks (our resource report) are not warnings.
DIAG = re.compile(r'^[^\s:]*:\d+:\d+: (fatal error|error|warning|note|remark): ')
NOISE = re.compile(r'^(Build succeeded\.|\d+ warnings? (and \d+ errors? )?generated\.'
                   r'|\s*)$')


def diagnostics(text):
    """Compiler output without remarks and chatter, grouped per diagnostic."""
    blocks, keep = [], True
    for line in text.splitlines():
        m = DIAG.match(line)
        if m:
            keep = m.group(1) != 'remark'
            if keep:
                blocks.append([line])
        elif keep and not NOISE.match(line):
            if blocks:
                blocks[-1].append(line)
            else:
                blocks.append([line])
    return ['\n'.join(b) for b in blocks]


class Tools:
    """Which toolchains exist here; state_dir holds generated helper files."""

    def __init__(self, state_dir):
        self.state_dir = state_dir
        self._ptxas_archs = None
        self.clang = shutil.which('clang-' + LLVM)
        self.ocloc = shutil.which('ocloc')
        self.llvm = dict((t, shutil.which('%s-%s' % (t, LLVM))) for t in
                         ('llvm-link', 'opt', 'llc', 'llvm-as', 'llvm-dis',
                          'llvm-spirv'))
        self.spirv_val = shutil.which('spirv-val')
        self.rocm_libs = first_existing(
            [os.environ.get('CLNET_ROCM_DEVICE_LIBS', '')] +
            glob.glob('/usr/lib/*/amdgcn/bitcode') +
            ['/usr/lib/amdgcn/bitcode', '/opt/rocm/amdgcn/bitcode'],
            'ocml.bc')
        self.libclc = first_existing(
            ['/usr/lib/clc', '/usr/lib/llvm-%s/lib/clc' % LLVM,
             '/usr/share/clc'], 'nvptx64--nvidiacl.bc')
        # ptxas is not a Debian package: the CUDA toolkit's usual places.
        cands = [shutil.which('ptxas') or '']
        cands += sorted(glob.glob('/usr/local/cuda*/bin/ptxas'), reverse=True)
        self.ptxas = next((c for c in cands if c and os.access(c, os.X_OK)),
                          None)
        if 'CLNET_PTXAS' in os.environ:  # a path, or empty to leave it out
            self.ptxas = os.environ['CLNET_PTXAS'] or None

    def missing(self, vendor):
        """Why this vendor's targets cannot be compiled here, or None."""
        need = {
            'intel': [('ocloc', self.ocloc, 'intel-opencl-icd')],
            'amd': [('clang-' + LLVM, self.clang, 'clang-' + LLVM),
                    ('ROCm device libraries', self.rocm_libs,
                     'rocm-device-libs'),
                    ('llvm-as-' + LLVM, self.llvm['llvm-as'], 'llvm-' + LLVM)],
            'nvidia': [('clang-' + LLVM, self.clang, 'clang-' + LLVM),
                       ('libclc nvptx64--nvidiacl.bc', self.libclc,
                        'libclc-' + LLVM)] +
                      [(t + '-' + LLVM, self.llvm[t], 'llvm-' + LLVM)
                       for t in ('llvm-link', 'opt', 'llc')],
            'spirv': [('clang-' + LLVM, self.clang, 'clang-' + LLVM),
                      ('llvm-spirv-' + LLVM, self.llvm['llvm-spirv'],
                       'llvm-spirv-' + LLVM),
                      ('spirv-val', self.spirv_val, 'spirv-tools')],
        }[vendor]
        absent = ['%s (Debian package %s)' % (what, pkg)
                  for what, path, pkg in need if not path]
        return ', '.join(absent) + ' not found' if absent else None

    def fingerprint(self, vendor):
        """Changes when the toolchain changes, so cached results expire."""
        files = {'intel': [self.ocloc] + glob.glob('/usr/lib/*/libigc.so.1'),
                 'amd': [self.clang, os.path.join(self.rocm_libs or '',
                                                   'ocml.bc')],
                 'nvidia': [self.clang, self.llvm['llc'], self.ptxas,
                            os.path.join(self.libclc or '',
                                         'nvptx64--nvidiacl.bc')],
                 'spirv': [self.clang, self.llvm['llvm-spirv'],
                           self.spirv_val]}[vendor]
        out = []
        for f in files:
            if f and os.path.exists(f):
                st = os.stat(os.path.realpath(f))
                out.append('%s:%d:%d' % (os.path.realpath(f), st.st_size,
                                         int(st.st_mtime)))
        return ';'.join(out)

    def versions(self):
        """One line per toolchain, for the report's header."""
        lines = []
        if self.clang:
            lines.append(run([self.clang, '--version'])[1].splitlines()[0])
        if self.ocloc:
            # ocloc writes the answer to a file named after the query.
            with tempfile.TemporaryDirectory() as d:
                run([self.ocloc, 'query', 'OCL_DRIVER_VERSION'], cwd=d)
                path = os.path.join(d, 'OCL_DRIVER_VERSION')
                ver = (open(path).read().strip('\0 \n') if os.path.exists(path)
                       else '?')
            lines.append('ocloc from Intel compute-runtime %s' % ver)
        if self.llvm['llvm-spirv']:
            lines.append('llvm-spirv-' + LLVM)
        if self.rocm_libs:
            lines.append('ROCm device libraries in ' + self.rocm_libs)
        if self.ptxas:
            rel = [l for l in run([self.ptxas, '--version'])[1].splitlines()
                   if 'release' in l]
            lines.append('ptxas (%s): %s' % (self.ptxas, rel[0] if rel else '?'))
        return lines

    # -- AMD ----------------------------------------------------------------
    def amd_libs(self, gfx):
        """Device-library dir for gfx, plus a notice if it had to be shimmed.

        Debian 12's rocm-device-libs (5.2) predates gfx11 and lacks
        oclc_isa_version_1100.bc, a one-constant file telling the libraries
        which ISA they run on. We then build a copy of the library dir with
        that file generated from the gfx1030 one (the ISA number changed
        only), so clang's real gfx1100 backend still compiles every kernel;
        the libraries' own math code takes its gfx10 paths.
        """
        num = gfx[3:]
        name = 'oclc_isa_version_%s.bc' % num
        if os.path.exists(os.path.join(self.rocm_libs, name)):
            return self.rocm_libs, None
        shim = os.path.join(self.state_dir, 'rocm-device-libs-' + gfx)
        notice = ('%s: %s missing from %s (rocm-device-libs too old); using '
                  'a generated one' % (gfx, name, self.rocm_libs))
        if os.path.exists(os.path.join(shim, name)):
            return shim, notice
        os.makedirs(self.state_dir, exist_ok=True)
        tmp = tempfile.mkdtemp(dir=self.state_dir)
        for f in glob.glob(os.path.join(self.rocm_libs, '*.bc')):
            os.symlink(f, os.path.join(tmp, os.path.basename(f)))
        isa = int(num[:-2]) * 1000 + int(num[-2], 16) * 100 + int(num[-1], 16)
        rc, text = run([self.llvm['llvm-dis'], '-o', '-', os.path.join(
            self.rocm_libs, 'oclc_isa_version_1030.bc')])
        text = re.sub(r'constant i32 \d+', 'constant i32 %d' % isa, text)
        ll = os.path.join(tmp, 'isa.ll')
        with open(ll, 'w') as f:
            f.write(text)
        rc2, _ = run([self.llvm['llvm-as'], ll, '-o', os.path.join(tmp, name)])
        if rc or rc2:
            raise RuntimeError('cannot generate %s' % name)
        try:
            os.rename(tmp, shim)  # atomic: parallel runs may race here
        except OSError:
            shutil.rmtree(tmp, ignore_errors=True)
        return shim, notice

    # -- NVIDIA -------------------------------------------------------------
    def ptxas_archs(self, wanted=('sm_70', 'sm_90')):
        """Archs ptxas can assemble, replacing dropped ones with the oldest
        still supported (CUDA 13 removed sm_70, Volta), with notices."""
        if self._ptxas_archs is None:
            archs, notes = [], []
            for arch in wanted:
                use = arch
                for cand in (arch, 'sm_75', 'sm_80'):
                    ptx = '.version 6.0\n.target sm_70\n.address_size 64\n'
                    if run_ptxas(self.ptxas, cand, ptx)[0] == 0:
                        use = cand
                        break
                if use != arch:
                    notes.append('ptxas %s cannot assemble %s; using %s' %
                                 (self.ptxas, arch, use))
                if use not in archs:
                    archs.append(use)
            self._ptxas_archs = (archs, notes)
        return self._ptxas_archs


def first_existing(dirs, probe):
    for d in dirs:
        if d and os.path.exists(os.path.join(d, probe)):
            return d
    return None


def run_ptxas(ptxas, arch, ptx_text):
    with tempfile.TemporaryDirectory() as d:
        src = os.path.join(d, 'k.ptx')
        with open(src, 'w') as f:
            f.write(ptx_text)
        return run([ptxas, '-v', '-arch=' + arch, src, '-o',
                    os.path.join(d, 'k.cubin')])


def result(ok, log, kernels=None, notices=None):
    return {'ok': ok, 'log': log, 'kernels': kernels or {},
            'notices': notices or []}


# IGC tries SIMD32, then 16, then 8, and only at SIMD8 accepts spilling,
# which it reports in the build log (the binary shows only scratch size,
# which private arrays use too).
INTEL_SPILL = re.compile(r'kernel (\w+)\s+compiled SIMD(\d+) allocated (\d+) regs '
                         r'and spilled around (\d+)')


def compile_intel(tools, t, src, cl_dir, options, work):
    rc, out = run([tools.ocloc, 'compile', '-file', src, '-device', t.cpu,
                   '-options', options + ' -I ' + cl_dir, '-out_dir', work,
                   '-output', 'k', '-output_no_suffix'])
    # IGC names the main source "1"; say which file it is.
    out = re.sub(r'(?m)^1:(\d+:\d+: )', os.path.basename(src) + r':\1', out)
    diags = diagnostics(out)
    if rc != 0:
        return result(False, diags or [out])
    with open(os.path.join(work, 'k'), 'rb') as f:
        kernels = intel_bin.parse(f.read())
    if kernels is None:
        return result(True, diags, {}, [
            'ocloc wrote an unknown binary format: no Intel metrics'])
    for m in INTEL_SPILL.finditer(out):
        kernels.setdefault(m.group(1), {})['spill'] = int(m.group(4))
    return result(True, diags, kernels)


AMD_KEYS = {'SGPRs': 'sgpr', 'VGPRs': 'vgpr', 'AGPRs': 'agpr',
            'ScratchSize [bytes/lane]': 'scratch',
            'Occupancy [waves/SIMD]': 'occ', 'SGPRs Spill': 'sgpr_spill',
            'VGPRs Spill': 'vgpr_spill', 'LDS Size [bytes/block]': 'lds'}
AMD_REMARK = re.compile(r'remark: +(.+?): (\S+) \[-Rpass-analysis')


def compile_amd(tools, t, src, cl_dir, options, work):
    libs, notice = tools.amd_libs(t.cpu)
    rc, out = run([tools.clang, '-x', 'cl', '-target', 'amdgcn-amd-amdhsa',
                   '-mcpu=' + t.cpu, '--rocm-device-lib-path=' + libs,
                   '-I', cl_dir] + shlex.split(options) +
                  ['-Rpass-analysis=kernel-resource-usage', '-c', src,
                   '-o', os.path.join(work, 'k.o')])
    diags = diagnostics(out)
    if rc != 0:
        return result(False, diags or [out])
    kernels, cur = {}, None
    for m in AMD_REMARK.finditer(out):
        key, val = m.group(1), m.group(2)
        if key == 'Function Name':
            cur = kernels.setdefault(val, {})
        elif cur is not None and key in AMD_KEYS:
            cur[AMD_KEYS[key]] = int(val)
    return result(True, diags, kernels, [notice] if notice else [])


PTXAS_ENTRY = re.compile(r"Compiling entry function '(\w+)' for '(\w+)'")
PTXAS_FRAME = re.compile(r'(\d+) bytes stack frame, (\d+) bytes spill stores, '
                         r'(\d+) bytes spill loads')
PTXAS_USED = re.compile(r'Used (\d+) registers(?:.*?, (\d+) bytes smem)?')


def parse_ptxas(out, kernels):
    """Adds {arch: metrics} per entry function from `ptxas -v` output."""
    cur = None
    for line in out.splitlines():
        m = PTXAS_ENTRY.search(line)
        if m:
            cur = kernels.setdefault(m.group(1), {}).setdefault(m.group(2), {})
            continue
        m = PTXAS_FRAME.search(line)
        if m and cur is not None and 'stack' not in cur:
            cur['stack'], cur['spill_st'], cur['spill_ld'] = map(int, m.groups())
            continue
        m = PTXAS_USED.search(line)
        if m and cur is not None:
            cur['regs'] = int(m.group(1))
            cur['smem'] = int(m.group(2) or 0)
            cur = None  # later "Function properties" lines are callees


def compile_nvidia(tools, t, src, cl_dir, options, work):
    bc, linked, opt, ptx = (os.path.join(work, n) for n in
                            ('k.bc', 'l.bc', 'o.bc', 'k.ptx'))
    # The nvidiacl triple matches libclc's, so llvm-link does not warn.
    steps = [
        [tools.clang, '-x', 'cl', '-target', 'nvptx64-unknown-nvidiacl',
         '-Xclang', '-finclude-default-header', '-I', cl_dir] +
        shlex.split(options) + ['-emit-llvm', '-c', src, '-o', bc],
        # Internalize libclc so -O3 inlines its builtins and drops the rest,
        # as NVIDIA's driver does with its own.
        [tools.llvm['llvm-link'], '--only-needed', '--internalize', bc,
         os.path.join(tools.libclc, 'nvptx64--nvidiacl.bc'), '-o', linked],
        [tools.llvm['opt'], '-O3', linked, '-o', opt],
        [tools.llvm['llc'], '-mcpu=' + t.cpu, opt, '-o', ptx],
    ]
    diags = []
    for cmd in steps:
        rc, out = run(cmd)
        diags += diagnostics(out)
        if rc != 0:
            return result(False, diags or [out])
    if not tools.ptxas:
        return result(True, diags, {}, [
            'ptxas not found (CUDA toolkit, not a Debian package): PTX '
            'generated but not assembled; no NVIDIA register report'])
    archs, notices = tools.ptxas_archs()
    kernels = {}
    for arch in archs:
        rc, out = run([tools.ptxas, '-v', '-arch=' + arch, ptx, '-o',
                       os.path.join(work, arch + '.cubin')])
        if rc != 0:
            return result(False, diags + [out], kernels, notices)
        parse_ptxas(out, kernels)
        diags += [l for l in out.splitlines() if 'warning' in l]
    return result(True, diags, kernels, list(notices))


def compile_spirv(tools, t, src, cl_dir, options, work):
    bc, spv = os.path.join(work, 'k.bc'), os.path.join(work, 'k.spv')
    diags = []
    for cmd in [
        # -O0: Debian's llvm-spirv 15.0.0 mistranslates optimised loops
        # (blocks before their dominators, SPIRV-LLVM-Translator#205, fixed
        # after its release). A driver taking SPIR-V optimises it itself.
        [tools.clang, '-x', 'cl', '-target', 'spir64', '-Xclang',
         '-finclude-default-header', '-I', cl_dir] + shlex.split(options) +
        ['-O0', '-emit-llvm', '-c', src, '-o', bc],
        # SPIR-V 1.0: the version every OpenCL SPIR-V consumer accepts.
        [tools.llvm['llvm-spirv'], '--spirv-max-version=1.0', bc, '-o', spv],
        [tools.spirv_val, '--target-env', 'opencl1.2', spv],
    ]:
        rc, out = run(cmd)
        diags += diagnostics(out)
        if rc != 0:
            return result(False, diags or [out])
    return result(True, diags)


COMPILERS = {'intel': compile_intel, 'amd': compile_amd,
             'nvidia': compile_nvidia, 'spirv': compile_spirv}


def compile_program(tools, target, src, cl_dir, options):
    with tempfile.TemporaryDirectory(prefix='clnet-k-') as work:
        return COMPILERS[target.vendor](tools, target, src, cl_dir, options,
                                        work)
