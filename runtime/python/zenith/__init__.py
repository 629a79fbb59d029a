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


def torch_dataset(path=None, loader=None, as_tensor=True, **loader_options):
    """A torch.utils.data.IterableDataset over the sidecar's segment (or, with loader
    options, an in-process Loader). Each item is one batch: a tensor for fixed-shape data,
    else the list of per-sample uint8 tensors of field 0. Use DataLoader(ds, batch_size=None).
    torch is imported only here.
    """
    import torch  # noqa: WPS433 (lazy on purpose: the core never needs torch)

    class ZenithIterableDataset(torch.utils.data.IterableDataset):
        def __iter__(self):
            if loader_options:
                source = Loader(**loader_options)
            else:
                source = Channel(path)
            for batch in source:
                if not as_tensor:
                    yield batch
                elif batch.is_tensor:
                    yield torch.from_numpy(batch.tensor())
                else:
                    yield [torch.from_numpy(a) for a in batch.field(0)]

    return ZenithIterableDataset()
