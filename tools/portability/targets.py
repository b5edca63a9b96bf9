"""The offline GPU targets of the portability matrix.

Each target carries the capabilities its vendor's OpenCL driver reports, so
print-options (which calls libclnet's clnet__build_options) produces the
option string the runtime would use on that device. Guards are the
capabilities a kernel may test with #if (CLNET_HAS_FP16, CLNET_HAS_FP64);
each lists the values that target can really have, and the matrix compiles
every listed value of a guard the kernel actually depends on.
"""

# Capability values (what clGetDeviceInfo returns on these devices):
#   Intel NEO: fp16 on every Gen12 GPU, no fp64 on Xe-LP (tgllp) or Arc (dg2);
#     max work-group 512 (Xe-LP) / 1024 (Arc), 64 KiB SLM.
#   AMD ROCm: fp16 and fp64 everywhere, max work-group 256, 64 KiB LDS.
#   NVIDIA: fp64 yes; the driver does not expose cl_khr_fp16 (and clang's
#     nvptx OpenCL target does not offer it either); 1024, 48 KiB shared.
#   SPIR-V: a generic OpenCL 1.2 device, so every guard value is checked.
BOTH = (0, 1)
OFF = (0,)

TARGETS = [
    # name      vendor    cpu-name   vec  wg    lmem    fp16  fp64
    ('tgllp',   'intel',  'tgllp',   1,   512,  65536,  BOTH, OFF),
    ('dg2',     'intel',  'dg2',     1,   1024, 65536,  BOTH, OFF),
    ('gfx900',  'amd',    'gfx900',  1,   256,  65536,  BOTH, BOTH),
    ('gfx1030', 'amd',    'gfx1030', 1,   256,  65536,  BOTH, BOTH),
    ('gfx1100', 'amd',    'gfx1100', 1,   256,  65536,  BOTH, BOTH),
    ('nvptx',   'nvidia', 'sm_70',   1,   1024, 49152,  OFF,  BOTH),
    ('spirv',   'spirv',  'spir64',  1,   256,  32768,  BOTH, BOTH),
]

GUARDS = ('fp16', 'fp64')


class Target:
    def __init__(self, row):
        (self.name, self.vendor, self.cpu, self.vec, self.wg, self.lmem,
         fp16, fp64) = row
        self.guards = {'fp16': fp16, 'fp64': fp64}

    def native(self, guard):
        """The value the runtime uses on this target's real devices."""
        return max(self.guards[guard])

    def caps_line(self, guard_values):
        """print-options input for this target with the given guard values."""
        g = dict((k, self.native(k)) for k in GUARDS)
        g.update(guard_values)
        return ('cl=1.2 fp16=%d fp64=%d vec=%d wg=%d lmem=%d cpu=0' %
                (g['fp16'], g['fp64'], self.vec, self.wg, self.lmem))

    def allows(self, guard_values):
        return all(v in self.guards[k] for k, v in guard_values.items())


def all_targets():
    return [Target(r) for r in TARGETS]


VENDORS = ('intel', 'amd', 'nvidia', 'spirv')
