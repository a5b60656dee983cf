using System.Runtime.InteropServices;
using TorchSharp;

namespace FairNad.Evaluation;

/// <summary>A device was asked for that this libtorch or this machine does not have; the message says what to do.</summary>
public sealed class DeviceUnavailableException(string message) : InvalidOperationException(message);

/// <summary>What the loaded libtorch offers, as recorded next to every measurement.</summary>
/// <param name="Kernels">Which kernel libraries run and how they are pinned (<see cref="TorchRuntime.KernelPolicy"/>).</param>
public sealed record TorchRuntimeInfo(string TorchSharpVersion, bool CudaAvailable, int Threads, string Device, string Kernels);

/// <summary>
/// Loads libtorch once, with an error that says what to do when it cannot, and pins the process-wide settings that
/// results depend on: the kernels (<see cref="KernelPolicy"/>), the thread count and the seed.
/// </summary>
public static class TorchRuntime
{
    /// <summary>
    /// What every process of this harness runs with, set once when libtorch loads. oneDNN is off: its convolution kernels
    /// are chosen per CPU (instruction set and cache sizes; on this 2-core AMD EPYC machine one ResNet seed ended at 10.0%,
    /// 16.2%, 17.0% or 21.4% validation accuracy depending only on ONEDNN_MAX_CPU_ISA), and its small-channel kernels have
    /// had out-of-bounds bugs (oneDNN #6035), the kind that makes a result depend on what the heap held, as seen in a user
    /// report (NaN at step 2, 3 or 4 of the same run, or none). Convolutions then run on ATen's own kernels with MKL GEMM
    /// (and NNPACK for float32 forward passes of batches of 16 or more on CPUs that NNPACK supports, as this one does:
    /// without it a quick-fidelity ResNet trained 1.6-1.7x slower here, and to other numbers, so results differ between
    /// hosts with and without NNPACK). Where NNPACK is not supported it is switched off, which changes no result: ATen
    /// would fall back to its own kernels anyway, but only after printing "Could not initialize NNPACK! Reason:
    /// Unsupported hardware." to stderr at every convolution (8,925 lines for that ResNet). Deterministic algorithms are
    /// on, so memory handed out by torch.empty is filled with NaN rather than left as it was: a kernel that read memory it
    /// never wrote would fail the same way every time. On CUDA the same switch only warns (some CUDA ops have no
    /// deterministic variant) and cuDNN runs its deterministic algorithms without benchmarking; GPU results are still not
    /// bit-exact.
    /// </summary>
    public const string KernelPolicy = "ATen + MKL GEMM, NNPACK where the CPU supports it, oneDNN off, deterministic algorithms, uninitialised memory filled with NaN";

    /// <summary>
    /// glibc's mmap threshold in every process that loads libtorch (see <see cref="LibTorchContext.SetMmapThreshold"/>):
    /// 4 MiB kept a quickstart ViT that held 7.8-10.4 GiB with glibc's default at 1.1 GiB (0.8 GiB live), and every
    /// worker of `fairnad bench memory` within 1.6x of its prediction; measured on the quickstart's seeds it was also
    /// faster than glibc's default (42.5-45.4 s against 49.9-51.3 s for seven candidates), which loses time to the
    /// page faults of its ever-growing heap.
    /// </summary>
    public const int MmapThreshold = 4 << 20;

    private static readonly Lock Gate = new();
    private static TorchRuntimeInfo? _info;

    /// <summary>The libtorch package this build references (e.g. "libtorch-cpu 2.10.0"), without loading it.</summary>
    public static string LibTorchPackage =>
        typeof(TorchRuntime).Assembly.GetCustomAttributes(typeof(System.Reflection.AssemblyMetadataAttribute), false).OfType<System.Reflection.AssemblyMetadataAttribute>()
            .FirstOrDefault(a => a.Key == "LibTorch")?.Value ?? "unknown";

    /// <summary>The TorchSharp assembly version, without loading libtorch.</summary>
    public static string TorchSharpVersion => typeof(torch).Assembly.GetName().Version?.ToString() ?? "unknown";

    /// <summary>Loads the native backend (idempotent) and describes it.</summary>
    /// <exception cref="InvalidOperationException">libtorch or TorchSharp's native bridge did not load; the message says why.</exception>
    public static TorchRuntimeInfo EnsureLoaded()
    {
        lock (Gate)
        {
            if (_info is not null)
            {
                return _info;
            }

            try
            {
                // cuBLAS is deterministic only with a fixed workspace; it reads this when CUDA initialises, so set it first.
                LibTorchContext.SetNativeEnvironment("CUBLAS_WORKSPACE_CONFIG", ":4096:8");
                torch.InitializeDeviceType(DeviceType.CPU);
            }
            catch (Exception e) when (e is TypeInitializationException or NotSupportedException or DllNotFoundException or ExternalException)
            {
                throw new InvalidOperationException(
                    "TorchSharp's native library did not load. On hosts with a libstdc++ older than GCC 13 (e.g. Debian 12) the " +
                    "build patches libLibTorchSharp.so (build/TorchSharpNative.targets); build with `dotnet build` or ./build.sh " +
                    "rather than copying binaries, and check that libtorch-cpu-linux-x64 is referenced. Cause: " + Innermost(e).Message,
                    e);
            }

            var cuda = torch.cuda.is_available();
            LibTorchContext.SetMmapThreshold(MmapThreshold);
            var nnpack = LibTorchContext.NnpackSupported();
            ApplyKernelPolicy(cuda, nnpack);
            _info = new TorchRuntimeInfo(
                typeof(torch).Assembly.GetName().Version?.ToString() ?? "unknown",
                cuda,
                torch.get_num_threads(),
                cuda ? "cuda" : "cpu",
                $"{KernelPolicy} (here: NNPACK {(nnpack ? "on" : "off")})");
            return _info;
        }
    }

    /// <summary>
    /// Fixes the intra-op thread count and the global seed, so two runs of the same work on the same machine give the
    /// same numbers on CPU (with the kernels of <see cref="KernelPolicy"/>, set when libtorch loads). GPU runs are best effort.
    /// </summary>
    public static TorchRuntimeInfo Configure(int threads, long seed)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(threads, 1);
        EnsureLoaded();
        lock (Gate)
        {
            torch.set_num_threads(threads);
            torch.manual_seed(seed);
            _info = _info! with { Threads = torch.get_num_threads() };
            return _info;
        }
    }

    /// <summary>
    /// Puts back everything process-wide that a candidate's training reads, before the next job of a warm worker: the
    /// kernel switches of <see cref="KernelPolicy"/> (nothing in the harness changes them, but a job must not depend on
    /// that), gradient mode on (a job that ended inside no_grad would leave it off), then the thread count and the seed
    /// (<see cref="Configure"/>). With this, a job sees the process as a fresh worker would.
    /// </summary>
    public static TorchRuntimeInfo ResetForJob(int threads, long seed)
    {
        var info = EnsureLoaded();
        lock (Gate)
        {
            ApplyKernelPolicy(info.CudaAvailable, LibTorchContext.NnpackSupported());
            torch.set_grad_enabled(true);
        }

        return Configure(threads, seed);
    }

    /// <summary>
    /// Frees what a finished job left behind: tensors no longer referenced (their finalizers release native memory) and
    /// glibc's free heap pages (malloc_trim), so a warm worker's resident memory between jobs is what it really keeps
    /// (the runtime, libtorch and cached data) and the recycle rule (<see cref="Isolation.WarmWorkerPool"/>) sees that.
    /// </summary>
    public static void ReleaseFreedMemory()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        LibTorchContext.TrimHeap();
    }

    private static void ApplyKernelPolicy(bool cuda, bool nnpack)
    {
        LibTorchContext.SetOneDnn(false);
        LibTorchContext.SetNnpack(nnpack);
        LibTorchContext.SetDeterministicAlgorithms(true, warnOnly: cuda);
        LibTorchContext.SetCudnnDeterministic(true);
    }

    /// <summary>Whether oneDNN kernels are enabled in this process (false under <see cref="KernelPolicy"/>).</summary>
    public static bool OneDnnEnabled
    {
        get
        {
            EnsureLoaded();
            return LibTorchContext.OneDnnEnabled();
        }
    }

    /// <summary>Whether convolutions may use NNPACK in this process: on where the CPU supports it (<see cref="KernelPolicy"/>).</summary>
    public static bool NnpackEnabled
    {
        get
        {
            EnsureLoaded();
            return LibTorchContext.NnpackEnabled();
        }
    }

    /// <summary>True for "cpu", "cuda" and "cuda:N".</summary>
    public static bool IsDeviceName(string name) =>
        name is "cpu" or "cuda" || (name.StartsWith("cuda:", StringComparison.Ordinal) && int.TryParse(name.AsSpan(5), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out _));

    /// <summary>The device to train on.</summary>
    /// <exception cref="DeviceUnavailableException">a GPU is asked for but this libtorch has no CUDA or sees no GPU; the message says what to do.</exception>
    public static torch.Device Device(string name)
    {
        if (!IsDeviceName(name))
        {
            throw new DeviceUnavailableException($"device must be cpu, cuda or cuda:<index>, not '{name}'");
        }

        EnsureLoaded();
        if (name == "cpu")
        {
            return torch.CPU;
        }

        if (!torch.cuda.is_available())
        {
            throw new DeviceUnavailableException(
                $"device '{name}' asked for, but libtorch sees no CUDA GPU: build with `./build.sh ... --torch-backend Cuda` (TorchSharp-cuda-linux) " +
                "on a machine with an NVIDIA driver, or train on the CPU (device cpu)");
        }

        var device = new torch.Device(name);
        return device.index < torch.cuda.device_count()
            ? device
            : throw new DeviceUnavailableException($"device '{name}' asked for, but libtorch sees {torch.cuda.device_count()} GPU(s)");
    }

    private static Exception Innermost(Exception e) => e.InnerException is null ? e : Innermost(e.InnerException);
}
