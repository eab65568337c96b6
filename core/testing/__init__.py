"""Testing helpers for provider authors and release scripts.

``modelport.testing.memory`` holds an in-memory provider with real HTTP endpoints and fault
injection, for exercising strategies without a cloud.
"""
