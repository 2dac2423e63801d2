"""Shared plumbing every feature app may use: today the audit log and the request context.

``core`` imports no feature app (annotate, agreement, exports, training, rewardmodel); an
import-linter contract in pyproject.toml holds it to that, so anything may depend on it.
"""
