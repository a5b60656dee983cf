using System.Runtime.InteropServices;
using TorchSharp;

namespace FairNad.Evaluation;

/// <summary>A device was asked for that this libtorch or this machine does not have; the message says what to do.</summary>
public sealed class DeviceUnavailableException(string message) : InvalidOperationException(message);

/// <summary>What the loaded libtorch offers, as recorded next to every measurement.</summary>
public sealed record TorchRuntimeInfo(string TorchSharpVersion, bool CudaAvailable, int Threads, string Device);

/// <summary>
/// Loads libtorch once, with an error that says what to do when it cannot, and pins the process-wide settings that
/// results depend on (thread count, seed, deterministic algorithms).
/// </summary>
public static class TorchRuntime
{
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
            _info = new TorchRuntimeInfo(
                typeof(torch).Assembly.GetName().Version?.ToString() ?? "unknown",
                cuda,
                torch.get_num_threads(),
                cuda ? "cuda" : "cpu");
            return _info;
        }
    }

    /// <summary>
    /// Fixes the intra-op thread count and the global seed, so two runs of the same work on the same machine give the
    /// same numbers on CPU. (TorchSharp 0.107 does not implement use_deterministic_algorithms; CPU kernels are
    /// deterministic for a fixed thread count, GPU runs are best effort.)
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
