"""The one `main()` body every node shares: init, spin single-threaded, clean shutdown."""

from __future__ import annotations

import sys
from collections.abc import Callable

import rclpy
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node

from lps_robot.runtime.params import load_params_file, params_files


def spin_node(
    factory: Callable[[], Node],
    argv: list[str] | None = None,
    on_shutdown: Callable[[Node], None] | None = None,
) -> int:
    """Run the node built by ``factory`` until Ctrl-C / SIGTERM (jazzy-style init/shutdown).

    A node that refuses its configuration (a `ValueError` such as a bad parameter or spec)
    or a parameter file rclpy cannot parse exits with status 2 and one line on stderr, no
    traceback."""
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
        executor.spin()
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
