#!/usr/bin/env python3
"""One measurement of the data-plane benchmark; prints the figure as its last line.

  bench.py npy DIR SAMPLES               write the large-sample .npy shards (1 MiB rows)
  bench.py zenith-sidecar DIR BATCH BIN  the sidecar streams DIR, this process consumes
  bench.py zenith-loader DIR BATCH       zenith.Loader in this process
  bench.py torch DIR BATCH WORKERS       PyTorch DataLoader over a plain map-style Dataset
  bench.py raw DIR                       read every byte of DIR's files (1 MiB reads), GB/s
  ... --metric samples|gbs|wait  [--trainer-ms MS] [--epochs N]

samples: samples/s; gbs: payload GB/s; wait: percent of the trainer's time spent blocked in
next() for the next batch while it "trains" --trainer-ms per batch (starvation); touching the
batch's bytes counts as training, on every side alike.
Every mode touches each sample's bytes once (a sum of one byte per sample) so nothing is lazy.
"""
import argparse
import os
import signal
import struct
import subprocess
import sys
import tempfile
import time

import numpy as np


def settle():
    """Lets the process go idle before timing: after its import NumPy's BLAS threads spin for
    about 0.1 s on a 2-CPU machine, which would take a core from whichever run starts first
    (a one-epoch Zenith run lasts 0.15 s). Every mode calls it, after its imports."""
    time.sleep(0.3)


def files_of(d):
    return sorted(os.path.join(d, f) for f in os.listdir(d) if not f.startswith("."))


def is_npy(d):
    return files_of(d)[0].endswith(".npy")


class Meter:
    def __init__(self, trainer_ms):
        self.trainer_s = trainer_ms / 1000.0
        self.samples = 0
        self.bytes = 0
        self.wait = 0.0
        self.start = time.perf_counter()

    def batches(self, iterable):
        """The batches of `iterable`, timing only the waits inside iter() and next()."""
        t = time.perf_counter()
        it = iter(iterable)  # DataLoader starts its workers here
        self.wait += time.perf_counter() - t
        while True:
            t = time.perf_counter()
            try:
                b = next(it)
            except StopIteration:
                return
            self.wait += time.perf_counter() - t
            yield b

    def got(self, samples, nbytes):
        self.samples += samples
        self.bytes += nbytes
        if self.trainer_s:
            time.sleep(self.trainer_s)  # the "training step"

    def report(self, metric):
        total = time.perf_counter() - self.start
        if metric == "samples":
            return self.samples / total
        if metric == "gbs":
            return self.bytes / total / 1e9
        return 100.0 * self.wait / total


def consume_zenith(batches, meter):
    for b in meter.batches(batches):
        if b.is_tensor:
            t = b.tensor()
            flat = t.reshape(t.shape[0], -1)
            _ = int(flat[:, 0].sum())
            meter.got(t.shape[0], t.nbytes)
        else:
            # The offsets/lengths index: one vectorised touch of each sample's first byte.
            data, index = b.data(), b.index()[0]
            _ = int(data[index[:, 0][index[:, 1] > 0]].sum())
            meter.got(index.shape[0], b.nbytes)
        del b


def zenith_flags(d, batch, io, epochs):
    return {"batch_size": batch, "shuffle": False, "slots": 16, "prefetch": 8, "io": io,
            "epochs": epochs}


def run_loader(args):
    import zenith
    settle()
    meter = Meter(args.trainer_ms)
    flags = zenith_flags(args.dir, args.batch, args.io, args.epochs)
    consume_zenith(zenith.Loader(args.dir, **flags), meter)
    return meter.report(args.metric)


def run_sidecar(args):
    import zenith
    settle()
    shm = tempfile.mkdtemp(prefix="zenith-bench-", dir="/dev/shm")
    cmd = [args.binary, "--source=" + args.dir, "--batch-size=%d" % args.batch, "--shuffle=false",
           "--slots=16", "--prefetch=8", "--shm-dir=" + shm, "--channel-name=bench",
           "--metrics.port=0", "--log.level=warn", "--io=" + args.io,
           "--epochs=%d" % args.epochs]
    proc = subprocess.Popen(cmd)
    try:
        chan = zenith.Channel(os.path.join(shm, "bench.zenith"), timeout=120)
        meter = Meter(args.trainer_ms)
        consume_zenith(chan, meter)
        return meter.report(args.metric)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait()
        os.rmdir(shm)


def tfrecord_index(path):
    """Offsets and lengths of every record (built once, before timing, as a map-style
    Dataset needs)."""
    offsets = []
    with open(path, "rb") as f:
        data = f.read()
    pos = 0
    while pos < len(data):
        (n,) = struct.unpack_from("<Q", data, pos)
        offsets.append((pos + 12, n))
        pos += 16 + n
    return offsets


def run_torch(args):
    import torch
    from torch.utils.data import DataLoader, Dataset

    paths = files_of(args.dir)
    if is_npy(args.dir):
        class NpyDataset(Dataset):
            def __init__(self):
                self.index = []
                for p in paths:
                    rows = np.load(p, mmap_mode="r").shape[0]
                    self.index += [(p, i) for i in range(rows)]
                self.arrays = {}

            def __len__(self):
                return len(self.index)

            def __getitem__(self, i):
                p, r = self.index[i]
                a = self.arrays.get(p)
                if a is None:
                    a = self.arrays[p] = np.load(p, mmap_mode="r")
                return torch.from_numpy(np.array(a[r]))

        ds = NpyDataset()
    else:
        class TfRecordDataset(Dataset):
            def __init__(self):
                self.index = [(p, off, n) for p in paths for off, n in tfrecord_index(p)]
                self.files = {}

            def __len__(self):
                return len(self.index)

            def __getitem__(self, i):
                p, off, n = self.index[i]
                f = self.files.get(p)
                if f is None:
                    f = self.files[p] = open(p, "rb")
                f.seek(off)
                return f.read(n)

        ds = TfRecordDataset()
    collate = None if is_npy(args.dir) else (lambda items: items)
    settle()
    loader = DataLoader(ds, batch_size=args.batch, shuffle=False, num_workers=args.workers,
                        collate_fn=collate, prefetch_factor=4 if args.workers else None,
                        persistent_workers=args.workers > 0)  # kept from epoch to epoch
    meter = Meter(args.trainer_ms)
    for batch in (b for _ in range(args.epochs) for b in meter.batches(loader)):
        if isinstance(batch, list):
            _ = sum(b[0] for b in batch if b)
            meter.got(len(batch), sum(len(b) for b in batch))
        else:
            flat = batch.reshape(batch.shape[0], -1)
            _ = int(flat[:, 0].sum())
            meter.got(batch.shape[0], batch.numel() * batch.element_size())
    return meter.report(args.metric)


def run_raw(args):
    settle()
    buf = bytearray(1 << 20)
    view = memoryview(buf)
    total = 0
    start = time.perf_counter()
    for p in files_of(args.dir):
        with open(p, "rb", buffering=0) as f:
            while True:
                n = f.readinto(view)
                if not n:
                    break
                total += n
    return total / (time.perf_counter() - start) / 1e9


def write_npy(args):
    rng = np.random.default_rng(1)
    os.makedirs(args.dir, exist_ok=True)
    per_file = 64
    for f in range((args.samples + per_file - 1) // per_file):
        rows = min(per_file, args.samples - f * per_file)
        a = rng.integers(0, 255, size=(rows, 1 << 20), dtype=np.uint8)
        np.save(os.path.join(args.dir, "part-%05d.npy" % f), a)
    return 0


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode")
    p.add_argument("dir")
    p.add_argument("rest", nargs="*")
    p.add_argument("--metric", default="samples")
    p.add_argument("--trainer-ms", type=float, default=0.0)
    p.add_argument("--io", default="auto", help="the sidecar's and Loader's io setting")
    p.add_argument("--epochs", type=int, default=1, help="passes over the files, every side")
    a = p.parse_args()
    if a.mode == "npy":
        a.samples = int(a.rest[0])
        write_npy(a)
        return
    if a.mode != "raw":
        a.batch = int(a.rest[0])
    if a.mode == "zenith-sidecar":
        a.binary = a.rest[1]
        v = run_sidecar(a)
    elif a.mode == "zenith-loader":
        v = run_loader(a)
    elif a.mode == "torch":
        a.workers = int(a.rest[1])
        v = run_torch(a)
    elif a.mode == "raw":
        v = run_raw(a)
    else:
        sys.exit("unknown mode " + a.mode)
    print("%.6g" % v)


if __name__ == "__main__":
    main()
