"""The optional C extensions, ``ladder/_accel.c`` and ``decoders/_sipparse.c`` (everything else is in pyproject.toml).

``optional=True``: without a C compiler the install goes on and ladder runs the same code
paths in Python, only slower. ``-ffp-contract=off``: no fused multiply-add, so the figures are
bit-identical with Python's."""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension("ladder._accel", ["ladder/_accel.c"], optional=True, extra_compile_args=["-O2", "-ffp-contract=off"]),
        # The whole parse of a plain SIP message (decoders/sip.py falls back to Python without it).
        Extension("decoders._sipparse", ["decoders/_sipparse.c"], optional=True, extra_compile_args=["-O2"]),
    ]
)
