"""Zenith's trainer-side data plane client.

Attach to the zenith-runtime sidecar's shared-memory segment and iterate over finished
batches without copying them, or run the same C++ engine in this process with ``Loader``:

    import zenith
    for batch in zenith.Channel():          # the sidecar's segment
        x = batch.tensor()                  # NumPy view [batch, ...] for raw / npy data
        ...

    for batch in zenith.Loader(source="/data/train", batch_size=256):
        samples = batch.field(0)            # list of uint8 views for TFRecord / WebDataset

Arrays are read-only views into shared memory; the buffer returns to the producer when the
batch and every array taken from it are gone. The core needs only NumPy (torch is optional,
see ``zenith.torch_dataset``).
"""

import os

# NumPy is imported here, not by the first batch: the extension loads NumPy's C API on the first
# array it makes, and that import (over 0.1 s, and NumPy's BLAS threads spinning for another
# 0.1 s after it) would otherwise land inside the first epoch of a trainer that has not
# imported NumPy itself, making its first batches several times slower.
import numpy  # noqa: F401

from ._zenith import Batch, ZenithError  # noqa: F401
from . import _zenith

__all__ = ["Batch", "Channel", "Loader", "ZenithError", "default_channel_path", "torch_dataset"]


def default_channel_path():
    """$ZENITH_CHANNEL, else <shm-dir>/<name>.zenith with the sidecar's defaults."""
    path = os.environ.get("ZENITH_CHANNEL")
    if path:
        return path
    shm_dir = os.environ.get("ZENITH_SHM_DIR", "/dev/shm")
    name = os.environ.get("ZENITH_CHANNEL_NAME", "zenith")
    return os.path.join(shm_dir, name + ".zenith")


class Channel:
    """Batches from the sidecar's segment, in the order it delivers them to this consumer.

    timeout: seconds to wait for one batch before raising ZenithError (a dead or stopped
    sidecar is reported at once). attach_timeout: seconds to wait for the segment to appear.
    Create it in the thread that will keep running: its liveness lock belongs to that thread.
    """

    def __init__(self, path=None, timeout=300.0, attach_timeout=60.0):
        self.path = path or default_channel_path()
        self._consumer = _zenith.Consumer(self.path, timeout, attach_timeout)

    def __iter__(self):
        return self

    def __next__(self):
        return self._consumer.next()

    @property
    def segment_bytes(self):
        return self._consumer.segment_bytes


def _flag_value(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    return str(value)


class Loader:
    """The sidecar's engine in this process, for when there is no sidecar.

    Keyword arguments are the sidecar's keys with '_' for '-': source, format, batch_size,
    shuffle, shuffle_seed, shuffle_buffer, epochs, last_batch, record_size, record_dtype,
    record_shape, on_error, rank, world_size, prefetch, slots, io ... RANK and WORLD_SIZE come
    from the environment unless given.
    """

    def __init__(self, source, timeout=300.0, **options):
        options["source"] = source
        flags = {k.replace("_", "-"): _flag_value(v) for k, v in options.items()}
        self._loader = _zenith.Loader(flags, timeout)

    def __iter__(self):
        return self

    def __next__(self):
        return self._loader.next()

    def stats(self):
        """The engine's counters: samples, bytes, batches, waits (nanoseconds)."""
        return self._loader.stats()


def torch_dataset(path=None, loader=None, as_tensor=True, device=None, **loader_options):
    """A torch.utils.data.IterableDataset over the sidecar's segment (or, with loader
    options, an in-process Loader). Each item is one batch: a tensor for fixed-shape data,
    else the list of per-sample uint8 tensors of field 0. Use DataLoader(ds, batch_size=None).

    device: where the batches go, e.g. "cuda" or "cuda:1". For a CUDA device the whole
    shared-memory segment is page-locked once (cudaHostRegister), so each batch is copied by
    DMA, asynchronously on the current stream, straight from the sidecar's buffer; that buffer
    goes back to the producer only after its copy has finished. Where the segment cannot be
    page-locked the copies are ordinary (synchronous) ones. torch is imported only here.
    """
    import torch  # noqa: WPS433 (lazy on purpose: the core never needs torch)

    target = torch.device(device) if device is not None else None

    def tensors(batch):
        if batch.is_tensor:
            return torch.from_numpy(batch.tensor())
        return [torch.from_numpy(a) for a in batch.field(0)]

    class ZenithIterableDataset(torch.utils.data.IterableDataset):
        def __iter__(self):
            if loader_options:
                source = Loader(**loader_options)
            else:
                source = Channel(path)
            if target is None or target.type != "cuda":
                for batch in source:
                    if not as_tensor:
                        yield batch
                    else:
                        out = tensors(batch)
                        yield out if target is None else _to(out, target, False)
                return
            yield from _cuda_batches(torch, source, target, tensors)

    return ZenithIterableDataset()


def _to(out, target, non_blocking):
    if isinstance(out, list):
        return [t.to(target, non_blocking=non_blocking) for t in out]
    return out.to(target, non_blocking=non_blocking)


def _cuda_batches(torch, source, target, tensors):
    """Copies each batch to a CUDA device from the page-locked segment. The batch (and so its
    buffer in the segment) is held until the trainer asks for the next one and the event
    recorded after its copy has completed; only then may the producer reuse the buffer. The
    copy was queued before the trainer's own work on that stream, so the wait is short, and no
    more buffers are held than without a device."""
    if not torch.cuda.is_available():
        raise ZenithError("torch_dataset(device=%r): torch sees no CUDA device" % str(target))
    owner = source._consumer if isinstance(source, Channel) else source._loader
    address, size = owner.segment_address, owner.segment_bytes
    cudart = torch.cuda.cudart()
    with torch.cuda.device(target):
        # cudaHostRegisterPortable (1): page-locked for every context, as the C++ feeder does.
        pinned = int(cudart.cudaHostRegister(address, size, 1)) == 0
        held = None  # (event, batch) of the copy in flight
        try:
            for batch in source:
                out = _to(tensors(batch), target, pinned)
                event = torch.cuda.Event()
                event.record()
                held = (event, batch)
                del batch
                yield out
                held[0].synchronize()
                held = None
        finally:
            if held is not None:
                held[0].synchronize()
            if pinned:
                cudart.cudaHostUnregister(address)
