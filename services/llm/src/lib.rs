//! LLM providers (work in progress).
