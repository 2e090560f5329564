"""The one `main()` body every node shares: init, spin single-threaded, clean shutdown."""

from __future__ import annotations

import faulthandler
import signal
import sys
from collections.abc import Callable

import rclpy
from rclpy.executors import Executor, ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node

from lps_robot.runtime.params import load_params_file, params_files

WAKE_S = 0.25  # the longest an executor waits before it looks at its context again


def spin_until_shutdown(executor: Executor, stopped: Callable[[], bool] = lambda: False) -> None:
    """``executor.spin()`` that wakes every ``WAKE_S`` to look at its context (and
    ``stopped``): a shutdown that lands while rclpy builds its wait set can go unheard, and
    ``spin()`` then waits forever. Seen here: a controller ignored SIGTERM for 10 s, its main
    thread in the executor's wait (1 of 30 SIGTERMs in a loop; rclpy issue 968's family)."""
    while executor.context.ok() and not stopped():
        executor.spin_once(timeout_sec=WAKE_S)


def spin_node(
    factory: Callable[[], Node],
    argv: list[str] | None = None,
    on_shutdown: Callable[[Node], None] | None = None,
) -> int:
    """Run the node built by ``factory`` until Ctrl-C / SIGTERM (jazzy-style init/shutdown).

    A node that refuses its configuration (a `ValueError` such as a bad parameter or spec)
    or a parameter file rclpy cannot parse exits with status 2 and one line on stderr, no
    traceback."""
    # SIGUSR1 writes every thread's stack to stderr (the node's log): how a node that does
    # not stop on SIGTERM shows where it hangs (`procs.stop` sends it before SIGKILL)
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    try:
        for path in params_files(list(sys.argv if argv is None else argv)):
            load_params_file(path)  # a clear line for broken YAML, before rclpy's traceback
        rclpy.init(args=argv)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except Exception as e:  # noqa: BLE001 - rcl's argument/parameter parsing errors
        print(f"error: ROS arguments refused: {str(e).splitlines()[0]}", file=sys.stderr)
        return 2
    try:
        node = factory()
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        rclpy.try_shutdown()
        return 2
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    try:
        spin_until_shutdown(executor)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except Exception:  # noqa: BLE001 - re-raised unless the context was shut down
        # SIGTERM's handler shuts rcl down; between two waits the executor then fails to
        # build its wait set ("the given context is not valid") instead of raising
        # ExternalShutdownException: the same clean stop, not an error exit
        if rclpy.ok():
            raise
    finally:
        if on_shutdown is not None:
            on_shutdown(node)
        node.destroy_node()
        rclpy.try_shutdown()
    return 0
