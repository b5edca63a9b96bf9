#!/usr/bin/env python3
"""Predicted data-parallel scaling of clnet's training step on 1-64 GPUs, from
a latency/bandwidth model of ring all-reduce with gradient buckets that
overlap backward (tools/bench/RESULTS.md, "Scale-out").

The model, per update of one replica:
  compute   T_f + T_b (forward, backward), T_b = 2 T_f
  staging   clnet sums through host memory: each bucket is read from the
            device and written back (2 n_b / B_pcie), plus a fixed cost per
            bucket c_b (measured here, see --per-bucket-ms)
  ring      all-reduce of n bytes over p ranks in buckets of b bytes:
            k = ceil(n / b) buckets, each 2 (p - 1) alpha + 2 (p - 1) / p * b / B_net
  overlap   bucket i can start when backward has produced it (backward
            produces the gradients at a uniform rate over T_b) and when
            bucket i - 1 is done; the step ends when the last bucket is.
Efficiency(p) = step(1) / step(p) (weak scaling: the per-GPU batch is fixed).

Inputs are printed with the table. Usage:
  scaling_model.py [--per-bucket-ms X] [--pcie-gbs X]
"""
import argparse
import math

# Networks: parameters (fp32 bytes) and the assumed forward time of one
# GPU's batch. Forward FLOPs from the models (resnet20: 41 MFLOP per 32x32
# image; resnet18: 1.8 GFLOP per 224x224 image) at an assumed effective
# fp32 rate: small 32x32 layers keep a GPU far from its peak.
NETS = {
    "resnet20 (CIFAR, batch 128/GPU)": dict(params=272_474, fwd_flop=41e6 * 128,
                                          rate=8e12),
    "resnet18 (ImageNet, batch 128/GPU)": dict(params=11_689_512, fwd_flop=1.8e9 * 128,
                                             rate=25e12),
}
LINKS = {"25 Gb/s": dict(bw=25e9 / 8, alpha=25e-6), "100 Gb/s": dict(bw=100e9 / 8, alpha=5e-6)}
RANKS = [1, 2, 4, 8, 16, 32, 64]
BUCKETS = [64 << 10, 256 << 10, 1 << 20, 4 << 20, 16 << 20, 64 << 20]


def step_time(net, link, p, bucket, per_bucket, pcie):
    n = net["params"] * 4
    t_f = net["fwd_flop"] / net["rate"]
    t_b = 2 * t_f
    if p == 1:
        return t_f + t_b
    k = max(1, math.ceil(n / bucket))
    done = t_f  # when the previous bucket's sum finished
    for i in range(k):
        size = min(bucket, n - i * bucket)
        ready = t_f + t_b * min(1.0, (i + 1) * bucket / n)
        ring = 2 * (p - 1) * link["alpha"] + 2 * (p - 1) / p * size / link["bw"]
        done = max(done, ready) + per_bucket + 2 * size / pcie + ring
    return done


def best_bucket(net, link, p, per_bucket, pcie):
    return min(BUCKETS, key=lambda b: step_time(net, link, p, b, per_bucket, pcie))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--per-bucket-ms", type=float, default=0.05,
                    help="fixed cost of one bucket (read, hand-over, write) in ms")
    ap.add_argument("--pcie-gbs", type=float, default=20.0,
                    help="device-host copy bandwidth, GB/s")
    a = ap.parse_args()
    per_bucket, pcie = a.per_bucket_ms / 1e3, a.pcie_gbs * 1e9
    print(f"inputs: per-bucket cost {a.per_bucket_ms} ms, device-host copies "
          f"{a.pcie_gbs} GB/s; links: " +
          ", ".join(f"{k} (alpha {v['alpha'] * 1e6:.0f} us)" for k, v in LINKS.items()))
    for name, net in NETS.items():
        t1 = step_time(net, LINKS["25 Gb/s"], 1, BUCKETS[0], per_bucket, pcie)
        print(f"\n{name}: {net['params'] * 4 / 2**20:.1f} MiB of gradients, "
              f"one GPU's step {t1 * 1e3:.1f} ms (forward {net['fwd_flop'] / 1e9:.0f} GFLOP "
              f"at {net['rate'] / 1e12:.0f} TFLOP/s, backward twice that)\n")
        print("| GPUs | " + " | ".join(f"{l}: efficiency (best bucket)" for l in LINKS) + " |")
        print("|---|" + "---|" * len(LINKS))
        for p in RANKS:
            cells = []
            for link in LINKS.values():
                b = best_bucket(net, link, p, per_bucket, pcie)
                eff = t1 / step_time(net, link, p, b, per_bucket, pcie)
                cells.append(f"{100 * eff:.0f}% ({b >> 10} KiB)")
            print(f"| {p} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
