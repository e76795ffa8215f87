//! The CPU backend: rayon over blocks, SIMD where the processor has it.
//! It is the reference every other backend is compared with.
