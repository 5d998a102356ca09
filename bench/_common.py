"""What the benchmarks share: running irkit in a child that reports its own peak RSS."""

# ``python -m irkit ...`` that writes its own peak RSS (kB) to $BENCH_HWM at exit. The child
# reads VmHWM itself: wait4's figure charges a forked child the size of its parent.
WITH_HWM = """\
import atexit, os, runpy, sys
def hwm():
    with open("/proc/self/status") as f:
        kb = next(line.split()[1] for line in f if line.startswith("VmHWM:"))
    with open(os.environ["BENCH_HWM"], "w") as out:
        out.write(kb)
atexit.register(hwm)
sys.argv[0] = "irkit"
runpy.run_module("irkit", run_name="__main__", alter_sys=True)
"""
