"""Build the optional compiled kernels; everything else is in pyproject.toml.

``optional=True``: if no C compiler is available the install still succeeds and
chromapal runs on its NumPy fallback (slower, same algorithm).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "chromapal._kernels",
            ["src/chromapal/_kernels.c"],
            extra_compile_args=["-O3", "-fno-math-errno", "-fno-trapping-math", "-ffp-contract=off"],
            optional=True,
        )
    ]
)
