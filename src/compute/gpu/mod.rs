//! The GPU backend: WGSL compute kernels through wgpu (Vulkan, Metal, DX12).
//!
//! Each kernel lives in `shaders/<name>.wgsl`, named after the CPU backend function it
//! mirrors, with its Rust driver in a file of the same name here. Inputs larger than one
//! storage binding are cut into chunks ([`context::Gpu::binding_limit`]). Every call
//! returns `Result`: the selection layer (`compute::select`) answers a failed call on the
//! CPU, so a GPU fault costs time, never a wrong answer.
mod assign;
pub mod context;
mod distances;
mod pq_lut;
mod rerank;
mod scan_pq4fs;
mod scan_pq8;
mod select_topk;

use std::sync::Mutex;

use context::Scratch;
pub use context::{AdapterSummary, Gpu, GpuOptions};

/// Why the GPU could not do something.
#[derive(Debug, thiserror::Error)]
pub enum GpuError {
    #[error("no GPU adapter: {0}")]
    NoAdapter(String),
    #[error("could not open the GPU device: {0}")]
    Device(String),
    #[error("shader {entry} failed to compile: {message}")]
    Shader {
        entry: &'static str,
        message: String,
    },
    #[error("GPU error: {0}")]
    Fault(String),
    #[error("{what} is too large for one GPU binding of {limit} bytes")]
    TooLarge { what: &'static str, limit: u64 },
    #[error("{0} is not supported by the GPU kernels")]
    Unsupported(String),
}

/// The buffers the kernels reuse from call to call (grown when a call needs more).
struct Buffers {
    params: Scratch,
    params2: Scratch,
    in_a: Scratch,
    in_b: Scratch,
    in_c: Scratch,
    out_a: Scratch,
    out_b: Scratch,
    out_c: Scratch,
    staging: Scratch,
}

impl Buffers {
    const fn new() -> Self {
        Self {
            params: Scratch::uniform(),
            params2: Scratch::uniform(),
            in_a: Scratch::storage(),
            in_b: Scratch::storage(),
            in_c: Scratch::storage(),
            out_a: Scratch::storage(),
            out_b: Scratch::storage(),
            out_c: Scratch::storage(),
            staging: Scratch::staging(),
        }
    }
}

/// A device with its pipelines and buffers. Calls are serialised (one queue, one set of
/// buffers); the CPU side of a call is cheap next to the kernels.
pub struct GpuBackend {
    gpu: Gpu,
    buffers: Mutex<Buffers>,
}

impl GpuBackend {
    pub fn open(options: &GpuOptions) -> Result<Self, GpuError> {
        Ok(Self::new(Gpu::open(options)?))
    }

    pub fn new(gpu: Gpu) -> Self {
        Self {
            gpu,
            buffers: Mutex::new(Buffers::new()),
        }
    }

    pub fn summary(&self) -> &AdapterSummary {
        self.gpu.summary()
    }

    /// Destroys the device, as a driver reset or an unplugged GPU would: every later call
    /// fails with a fault. Tests use it to show that the CPU then takes over.
    pub fn lose_device(&self) {
        self.gpu.device.destroy();
    }

    fn with_buffers<T>(
        &self,
        f: impl FnOnce(&Gpu, &mut Buffers) -> Result<T, GpuError>,
    ) -> Result<T, GpuError> {
        let mut buffers = self.buffers.lock().unwrap_or_else(|p| p.into_inner());
        // A fault left by an earlier call must not be blamed on (or hidden by) this one.
        self.gpu.check()?;
        f(&self.gpu, &mut buffers)
    }
}

/// What `facefind doctor` prints: the adapter compute would use, or why there is none.
pub fn describe() -> String {
    match Gpu::open(&GpuOptions {
        allow_software: true,
        ..GpuOptions::default()
    }) {
        Ok(gpu) => {
            let s = gpu.summary();
            let mut text = format!(
                "GPU adapter: {} ({} backend, {} device{})\n  driver: {}\n  limits used: storage binding {} MiB, buffer {} MiB, workgroup memory {} KiB, {} invocations per workgroup, {} workgroups per dimension",
                s.name,
                s.backend,
                s.device_type,
                if s.software { ", software" } else { "" },
                if s.driver.is_empty() {
                    "(not reported)"
                } else {
                    &s.driver
                },
                s.max_binding_bytes >> 20,
                s.max_buffer_bytes >> 20,
                s.max_workgroup_storage_bytes >> 10,
                s.max_invocations_per_workgroup,
                s.max_workgroups_per_dimension,
            );
            if s.software {
                text.push_str("\n  a software adapter: `--backend gpu` uses it (to test the shaders), `auto` does not");
            }
            text
        }
        Err(e) => format!("GPU adapter: none ({e}); compute runs on the CPU"),
    }
}

/// Views `f32`s as bytes for upload.
fn bytes_of<T: bytemuck::Pod>(v: &[T]) -> &[u8] {
    bytemuck::cast_slice(v)
}

/// Copies read-back bytes into typed values (the staging view has no alignment promise).
fn values_of<T: bytemuck::Pod>(bytes: &[u8]) -> Vec<T> {
    bytemuck::pod_collect_to_vec(bytes)
}
