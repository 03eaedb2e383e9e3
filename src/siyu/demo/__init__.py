"""Demo brand: deterministic canonical records and ground truth for tests and benchmarks."""

from siyu.demo.generator import DemoFiles, generate_demo

__all__ = ["DemoFiles", "generate_demo"]
