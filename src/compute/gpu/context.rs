//! The wgpu device: adapter choice, the limits the kernels rely on, a cache of compiled
//! pipelines, reusable buffers and a blocking submit-and-read-back helper.
//!
//! wgpu reports validation errors and device loss through callbacks; both are recorded
//! here and turned into a [`GpuError`] by the next [`Gpu::finish`], so a failed kernel
//! never returns data.
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::GpuError;

/// How the device is chosen and how large one binding may be.
#[derive(Clone, Debug, Default)]
pub struct GpuOptions {
    /// Accept a software adapter (`DeviceType::Cpu`, e.g. lavapipe). Off for `auto`.
    pub allow_software: bool,
    /// Cap one storage binding below the device's own limit (tests use it to force chunking).
    pub max_binding_bytes: Option<u64>,
}

/// What `doctor` prints about the device in use.
#[derive(Clone, Debug, serde::Serialize)]
pub struct AdapterSummary {
    pub name: String,
    pub backend: String,
    pub device_type: String,
    pub driver: String,
    /// True for software rasterisers (lavapipe, llvmpipe, WARP).
    pub software: bool,
    pub max_binding_bytes: u64,
    pub max_buffer_bytes: u64,
    pub max_workgroup_storage_bytes: u32,
    pub max_invocations_per_workgroup: u32,
    pub max_workgroups_per_dimension: u32,
}

/// A compute device with everything the kernels share.
pub struct Gpu {
    pub(super) device: wgpu::Device,
    pub(super) queue: wgpu::Queue,
    summary: AdapterSummary,
    /// The largest storage binding a kernel may use, in bytes (a multiple of 256).
    pub(super) binding_limit: u64,
    pub(super) max_groups: u32,
    pipelines: Mutex<HashMap<(&'static str, u32), Arc<wgpu::ComputePipeline>>>,
    /// The first uncaptured error or device loss since the last [`Gpu::finish`].
    fault: Arc<Mutex<Option<String>>>,
}

/// wgpu's text of an error (kind and cause chain) on one line, for a log line.
fn describe_error(e: &wgpu::Error) -> String {
    e.to_string()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// The adapters of every native backend compiled in, best first: hardware before software.
fn ranked_adapters(instance: &wgpu::Instance) -> Vec<wgpu::Adapter> {
    let mut adapters = pollster::block_on(instance.enumerate_adapters(wgpu::Backends::all()));
    adapters.sort_by_key(|a| device_rank(a.get_info().device_type));
    adapters
}

fn device_rank(ty: wgpu::DeviceType) -> u8 {
    match ty {
        wgpu::DeviceType::DiscreteGpu => 0,
        wgpu::DeviceType::IntegratedGpu => 1,
        wgpu::DeviceType::VirtualGpu => 2,
        wgpu::DeviceType::Other => 3,
        wgpu::DeviceType::Cpu => 4,
    }
}

impl Gpu {
    /// Opens the best adapter allowed by `options`, or says why there is none.
    pub fn open(options: &GpuOptions) -> Result<Self, GpuError> {
        let instance =
            wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env());
        let adapters = ranked_adapters(&instance);
        let Some(adapter) = adapters
            .into_iter()
            .find(|a| options.allow_software || a.get_info().device_type != wgpu::DeviceType::Cpu)
        else {
            return Err(if options.allow_software {
                GpuError::NoAdapter("no Vulkan, Metal or DX12 adapter found".into())
            } else {
                GpuError::NoAdapter(
                    "no hardware adapter found (software adapters are not used for speed)".into(),
                )
            });
        };
        let adapter_limits = adapter.limits();
        // Ask for the adapter's own storage limits: the WebGPU defaults (128 MiB bindings,
        // 256 MiB buffers) are far below what real devices allow.
        let required_limits = wgpu::Limits {
            max_storage_buffer_binding_size: adapter_limits.max_storage_buffer_binding_size,
            max_buffer_size: adapter_limits.max_buffer_size,
            max_storage_buffers_per_shader_stage: adapter_limits
                .max_storage_buffers_per_shader_stage
                .min(8),
            ..wgpu::Limits::downlevel_defaults()
        };
        let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
            label: Some("facefind compute"),
            required_features: wgpu::Features::empty(),
            required_limits,
            ..Default::default()
        }))
        .map_err(|e| GpuError::Device(e.to_string()))?;
        Ok(Self::from_device(
            device,
            queue,
            &adapter.get_info(),
            options,
        ))
    }

    /// Wraps a device someone else opened (the GUI's eframe renderer) so compute shares it.
    pub fn from_device(
        device: wgpu::Device,
        queue: wgpu::Queue,
        info: &wgpu::AdapterInfo,
        options: &GpuOptions,
    ) -> Self {
        let limits = device.limits();
        // At most 2 GiB: the shaders index bindings with u32 byte and element offsets.
        let mut binding_limit = limits
            .max_storage_buffer_binding_size
            .min(limits.max_buffer_size)
            .min(1 << 31);
        if let Some(cap) = options.max_binding_bytes {
            binding_limit = binding_limit.min(cap);
        }
        // Chunks are cut on 256-byte boundaries so every offset is aligned for any binding.
        let binding_limit = (binding_limit / 256 * 256).max(256);
        let fault = Arc::new(Mutex::new(None::<String>));
        let on_error = Arc::clone(&fault);
        device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
            let mut slot = on_error.lock().unwrap_or_else(|p| p.into_inner());
            slot.get_or_insert_with(|| describe_error(&e));
        }));
        let on_lost = Arc::clone(&fault);
        device.set_device_lost_callback(move |reason, message| {
            let mut slot = on_lost.lock().unwrap_or_else(|p| p.into_inner());
            slot.get_or_insert_with(|| format!("device lost ({reason:?}): {message}"));
        });
        let summary = AdapterSummary {
            name: info.name.clone(),
            backend: format!("{:?}", info.backend),
            device_type: format!("{:?}", info.device_type),
            driver: format!("{} {}", info.driver, info.driver_info)
                .trim()
                .to_string(),
            software: info.device_type == wgpu::DeviceType::Cpu,
            max_binding_bytes: binding_limit,
            max_buffer_bytes: limits.max_buffer_size,
            max_workgroup_storage_bytes: limits.max_compute_workgroup_storage_size,
            max_invocations_per_workgroup: limits.max_compute_invocations_per_workgroup,
            max_workgroups_per_dimension: limits.max_compute_workgroups_per_dimension,
        };
        Self {
            max_groups: limits.max_compute_workgroups_per_dimension,
            device,
            queue,
            summary,
            binding_limit,
            pipelines: Mutex::new(HashMap::new()),
            fault,
        }
    }

    pub fn summary(&self) -> &AdapterSummary {
        &self.summary
    }

    /// The compiled pipeline for `entry` of `source` with the override constant `variant`,
    /// built on first use; a shader that fails to compile is an error, not a panic.
    pub(super) fn pipeline(
        &self,
        source: &'static str,
        entry: &'static str,
        variant: u32,
    ) -> Result<Arc<wgpu::ComputePipeline>, GpuError> {
        let mut cache = self.pipelines.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(p) = cache.get(&(entry, variant)) {
            return Ok(Arc::clone(p));
        }
        let scope = self.device.push_error_scope(wgpu::ErrorFilter::Validation);
        let module = self
            .device
            .create_shader_module(wgpu::ShaderModuleDescriptor {
                label: Some(entry),
                source: wgpu::ShaderSource::Wgsl(source.into()),
            });
        let has_variant = source.contains("override VARIANT");
        let constants = [("VARIANT", f64::from(variant))];
        let pipeline = self
            .device
            .create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                label: Some(entry),
                layout: None,
                module: &module,
                entry_point: Some(entry),
                compilation_options: wgpu::PipelineCompilationOptions {
                    constants: if has_variant { &constants } else { &[] },
                    zero_initialize_workgroup_memory: false,
                },
                cache: None,
            });
        if let Some(err) = pollster::block_on(scope.pop()) {
            return Err(GpuError::Shader {
                entry,
                message: err.to_string(),
            });
        }
        let pipeline = Arc::new(pipeline);
        cache.insert((entry, variant), Arc::clone(&pipeline));
        Ok(pipeline)
    }

    /// A bind group of `buffers` at bindings 0, 1, … of group 0.
    pub(super) fn bind(
        &self,
        pipeline: &wgpu::ComputePipeline,
        buffers: &[wgpu::BindingResource<'_>],
    ) -> wgpu::BindGroup {
        let entries: Vec<wgpu::BindGroupEntry<'_>> = buffers
            .iter()
            .enumerate()
            .map(|(i, resource)| wgpu::BindGroupEntry {
                binding: i as u32,
                resource: resource.clone(),
            })
            .collect();
        self.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: None,
            layout: &pipeline.get_bind_group_layout(0),
            entries: &entries,
        })
    }

    /// Records one dispatch of `pipeline` with `bind_group` into `encoder`.
    pub(super) fn dispatch(
        encoder: &mut wgpu::CommandEncoder,
        pipeline: &wgpu::ComputePipeline,
        bind_group: &wgpu::BindGroup,
        groups: (u32, u32),
    ) {
        let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor::default());
        pass.set_pipeline(pipeline);
        pass.set_bind_group(0, bind_group, &[]);
        pass.dispatch_workgroups(groups.0, groups.1, 1);
    }

    pub(super) fn encoder(&self) -> wgpu::CommandEncoder {
        self.device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor::default())
    }

    /// Submits `encoder`, waits for it and copies `reads` (buffer, byte length) back, in order.
    /// Any validation error or device loss recorded meanwhile fails the whole call.
    pub(super) fn finish(
        &self,
        mut encoder: wgpu::CommandEncoder,
        reads: &[(&wgpu::Buffer, u64)],
        staging: &mut Scratch,
    ) -> Result<Vec<Vec<u8>>, GpuError> {
        let total: u64 = reads.iter().map(|(_, len)| len.next_multiple_of(256)).sum();
        let stage = staging.get(self, total.max(256));
        let mut offset = 0;
        for (buffer, len) in reads {
            let len4 = len.next_multiple_of(4);
            encoder.copy_buffer_to_buffer(buffer, 0, stage, offset, len4);
            offset += len.next_multiple_of(256);
        }
        self.queue.submit([encoder.finish()]);
        let (tx, rx) = std::sync::mpsc::channel();
        stage
            .slice(..offset.max(4))
            .map_async(wgpu::MapMode::Read, move |r| {
                let _ = tx.send(r);
            });
        self.device
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(|e| GpuError::Device(e.to_string()))?;
        let mapped = rx.recv().map_err(|e| GpuError::Device(e.to_string()))?;
        self.check()?;
        mapped.map_err(|e| GpuError::Device(format!("read-back failed: {e}")))?;
        let mut out = Vec::with_capacity(reads.len());
        {
            let view = stage
                .slice(..offset.max(4))
                .get_mapped_range()
                .map_err(|e| GpuError::Device(format!("read-back failed: {e}")))?;
            let mut at = 0usize;
            for (_, len) in reads {
                out.push(view[at..at + *len as usize].to_vec());
                at += len.next_multiple_of(256) as usize;
            }
        }
        stage.unmap();
        Ok(out)
    }

    /// Fails with the first error wgpu reported since the last check.
    pub(super) fn check(&self) -> Result<(), GpuError> {
        let mut slot = self.fault.lock().unwrap_or_else(|p| p.into_inner());
        match slot.take() {
            Some(message) => Err(GpuError::Fault(message)),
            None => Ok(()),
        }
    }
}

/// A buffer that is kept between calls and only re-allocated when a call needs more.
pub(super) struct Scratch {
    usage: wgpu::BufferUsages,
    buffer: Option<wgpu::Buffer>,
}

impl Scratch {
    pub(super) const fn storage() -> Self {
        Self::new(
            wgpu::BufferUsages::STORAGE
                .union(wgpu::BufferUsages::COPY_DST)
                .union(wgpu::BufferUsages::COPY_SRC),
        )
    }
    pub(super) const fn uniform() -> Self {
        Self::new(wgpu::BufferUsages::UNIFORM.union(wgpu::BufferUsages::COPY_DST))
    }
    pub(super) const fn staging() -> Self {
        Self::new(wgpu::BufferUsages::MAP_READ.union(wgpu::BufferUsages::COPY_DST))
    }
    const fn new(usage: wgpu::BufferUsages) -> Self {
        Self {
            usage,
            buffer: None,
        }
    }

    /// The buffer, at least `bytes` long (grown by doubling, so repeated calls re-use it).
    pub(super) fn get(&mut self, gpu: &Gpu, bytes: u64) -> &wgpu::Buffer {
        let bytes = bytes.max(16).next_multiple_of(256);
        if self.buffer.as_ref().is_some_and(|b| b.size() < bytes) {
            self.buffer = None;
        }
        let usage = self.usage;
        self.buffer.get_or_insert_with(|| {
            gpu.device.create_buffer(&wgpu::BufferDescriptor {
                label: None,
                size: bytes.next_power_of_two().min(gpu.binding_limit.max(bytes)),
                usage,
                mapped_at_creation: false,
            })
        })
    }

    /// The buffer holding a copy of `data` (padded to a multiple of 4 bytes).
    pub(super) fn upload(&mut self, gpu: &Gpu, data: &[u8]) -> &wgpu::Buffer {
        let len = (data.len() as u64).next_multiple_of(4);
        let buffer = self.get(gpu, len);
        if data.len().is_multiple_of(4) {
            gpu.queue.write_buffer(buffer, 0, data);
        } else {
            let mut padded = data.to_vec();
            padded.resize(len as usize, 0);
            gpu.queue.write_buffer(buffer, 0, &padded);
        }
        buffer
    }
}
