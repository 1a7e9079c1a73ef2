"""The CPython side of `./dev bench`: the same heap the collect benchmarks build, collected by
CPython's own gc, so that each cyclegc figure is a ratio against it in the same run.

The heap: N objects in N/2 two-object cycles that nothing else reaches, and N objects in a live
singly linked list. It prints one line, which bench_table.py reads:
  python=V N=n tracked=t freed=f collect=Ss ... collect_live_only=Ss ... maxrss=MMB
collect is the full collection that frees the cycles; collect_live_only is the next full
collection, which finds nothing and only traverses the live list.
Usage: python3 cpython_baseline.py N
"""
import gc
import resource
import sys
import time


class Node:
    """An ordinary instance with one reference: no __slots__, as most Python objects are."""

    def __init__(self, ref=None):
        self.ref = ref


def timed_collect():
    start = time.perf_counter()
    freed = gc.collect()
    return freed, time.perf_counter() - start


def main(n):
    gc.disable()  # the heap is built without automatic collections, as in the C++ benchmark
    gc.collect()
    live = None
    for _ in range(n):
        live = Node(live)
    pairs = []
    for _ in range(n // 2):
        first = Node()
        first.ref = Node(first)
        pairs.append(first)
    tracked = len(gc.get_objects())
    del pairs, first  # the cycles are now garbage
    freed, collect_s = timed_collect()
    _, live_s = timed_collect()
    maxrss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"python={sys.version.split()[0]} N={n} tracked={tracked} freed={freed} "
          f"collect={collect_s:.4f}s ({collect_s * 1e9 / (2 * n):.1f} ns/obj over 2N) "
          f"collect_live_only={live_s:.4f}s ({live_s * 1e9 / n:.1f} ns/live obj) "
          f"maxrss={maxrss_mb:.0f}MB")
    assert live is not None


if __name__ == "__main__":
    main(int(sys.argv[1]))
