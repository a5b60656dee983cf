using System.Runtime.InteropServices;

namespace FairNad.Evaluation;

/// <summary>
/// The switches of libtorch's global <c>at::Context</c> that decide which kernels run and what uninitialised memory holds.
/// TorchSharp 0.107 does not expose them (its <c>use_deterministic_algorithms</c> throws NotImplementedException), so they
/// are bound here by their C++ symbol names in libtorch_cpu.so (Itanium ABI: Linux, the only platform this harness
/// builds for). A missing symbol is an error that names it, never a silent default.
/// </summary>
internal static partial class LibTorchContext
{
    private const string Library = "libtorch_cpu";

    /// <summary>Turns oneDNN (MKL-DNN) kernels on or off for every later operation in the process.</summary>
    public static void SetOneDnn(bool enabled) => Call("at::Context::setUserEnabledMkldnn", () => SetUserEnabledMkldnn(GlobalContext(), enabled));

    public static bool OneDnnEnabled() => Call("at::Context::userEnabledMkldnn", () => UserEnabledMkldnn(GlobalContext()));

    /// <summary>Lets convolutions use NNPACK (where ATen picks it: float32, batch 16 or more) or never.</summary>
    public static void SetNnpack(bool enabled) => Call("at::Context::setUserEnabledNNPACK", () => SetUserEnabledNnpack(GlobalContext(), enabled));

    public static bool NnpackEnabled() => Call("at::Context::userEnabledNNPACK", () => UserEnabledNnpack(GlobalContext()));

    /// <summary>
    /// Whether NNPACK runs on this CPU (on x86-64 it wants AVX2, FMA3 and the cache sizes, which a hypervisor may not
    /// report), asked of NNPACK's own nnp_initialize (idempotent) rather than of at::_nnpack_available, which logs
    /// "Could not initialize NNPACK! Reason: Unsupported hardware." to stderr each time it is asked, i.e. at every
    /// convolution while NNPACK is enabled on a CPU that cannot run it. The function is looked up as libtorch_cpu's own
    /// call to it binds: in the global scope first (the program, LD_PRELOAD, libraries loaded RTLD_GLOBAL), then in
    /// libtorch_cpu. A libtorch built without NNPACK does not export it and never runs NNPACK: not supported.
    /// </summary>
    public static unsafe bool NnpackSupported()
    {
        const string symbol = "nnp_initialize";
        if (!NativeLibrary.TryGetExport(NativeLibrary.GetMainProgramHandle(), symbol, out var initialize)
            && !NativeLibrary.TryGetExport(NativeLibrary.Load(Library, typeof(LibTorchContext).Assembly, null), symbol, out initialize))
        {
            return false;
        }

        return ((delegate* unmanaged<int>)initialize)() == NnpStatusSuccess;
    }

    /// <summary>
    /// torch.use_deterministic_algorithms: kernels with a deterministic variant use it, ops without one throw (or warn), and
    /// memory that torch.empty hands out is filled with NaN (floats) or the largest integer, so a kernel that reads memory it
    /// never wrote gives the same wrong answer every time instead of whatever the heap held.
    /// </summary>
    public static void SetDeterministicAlgorithms(bool enabled, bool warnOnly)
    {
        Call("at::Context::setDeterministicAlgorithms", () => SetDeterministicAlgorithmsNative(GlobalContext(), enabled, warnOnly));
        Call("at::Context::setDeterministicFillUninitializedMemory", () => SetDeterministicFillUninitializedMemory(GlobalContext(), enabled));
    }

    /// <summary>cuDNN: deterministic algorithms only, no benchmarking (whose choice depends on timing). Harmless without CUDA.</summary>
    public static void SetCudnnDeterministic(bool deterministic)
    {
        Call("at::Context::setDeterministicCuDNN", () => SetDeterministicCuDnn(GlobalContext(), deterministic));
        Call("at::Context::setBenchmarkCuDNN", () => SetBenchmarkCuDnn(GlobalContext(), !deterministic));
    }

    /// <summary>Sets a variable in the native environment (what libtorch, MKL and cuBLAS read with getenv), not only in .NET's copy.</summary>
    public static void SetNativeEnvironment(string name, string value)
    {
        if (SetEnv(name, value, 1) != 0)
        {
            throw new InvalidOperationException($"setenv({name}) failed with errno {Marshal.GetLastPInvokeError()}");
        }
    }

    /// <summary>
    /// Fixes glibc's mmap threshold (mallopt M_MMAP_THRESHOLD): blocks from this size up are mapped and unmapped, so freed
    /// tensor memory goes back to the system. glibc's default raises the threshold as large blocks are freed, after
    /// which freed tensors stay in the heap, fragmented: a 18k-parameter ViT trained and evaluated with 7.8 GiB resident
    /// for 0.8 GiB live. A MALLOC_MMAP_THRESHOLD_ set by the user wins. Returns whether the threshold was set here.
    /// </summary>
    public static bool SetMmapThreshold(int bytes)
    {
        if (Environment.GetEnvironmentVariable("MALLOC_MMAP_THRESHOLD_") is not null || !OperatingSystem.IsLinux())
        {
            return false;
        }

        return Mallopt(MmapThreshold, bytes) == 1
            ? true
            : throw new InvalidOperationException($"mallopt(M_MMAP_THRESHOLD, {bytes}) failed");
    }

    /// <summary>Returns the free pages of glibc's heaps to the system (malloc_trim(0)); a no-op elsewhere.</summary>
    public static void TrimHeap()
    {
        if (OperatingSystem.IsLinux())
        {
            _ = MallocTrim(0);
        }
    }

    private const int MmapThreshold = -3;

    private const int NnpStatusSuccess = 0;

    private static T Call<T>(string symbol, Func<T> call)
    {
        try
        {
            return call();
        }
        catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException)
        {
            throw new InvalidOperationException(
                $"libtorch does not export {symbol} ({e.Message}); this harness needs it to pin the kernels that results depend on. " +
                $"Use the libtorch version in Directory.Packages.props ({TorchRuntime.LibTorchPackage}).", e);
        }
    }

    private static void Call(string symbol, Action call) => Call(symbol, () =>
    {
        call();
        return 0;
    });

    [LibraryImport(Library, EntryPoint = "_ZN2at13globalContextEv")]
    private static partial IntPtr GlobalContext();

    [LibraryImport(Library, EntryPoint = "_ZN2at7Context20setUserEnabledMkldnnEb")]
    private static partial void SetUserEnabledMkldnn(IntPtr context, [MarshalAs(UnmanagedType.U1)] bool enabled);

    [LibraryImport(Library, EntryPoint = "_ZNK2at7Context17userEnabledMkldnnEv")]
    [return: MarshalAs(UnmanagedType.U1)]
    private static partial bool UserEnabledMkldnn(IntPtr context);

    [LibraryImport(Library, EntryPoint = "_ZN2at7Context20setUserEnabledNNPACKEb")]
    private static partial void SetUserEnabledNnpack(IntPtr context, [MarshalAs(UnmanagedType.U1)] bool enabled);

    [LibraryImport(Library, EntryPoint = "_ZNK2at7Context17userEnabledNNPACKEv")]
    [return: MarshalAs(UnmanagedType.U1)]
    private static partial bool UserEnabledNnpack(IntPtr context);

    [LibraryImport(Library, EntryPoint = "_ZN2at7Context26setDeterministicAlgorithmsEbb")]
    private static partial void SetDeterministicAlgorithmsNative(IntPtr context, [MarshalAs(UnmanagedType.U1)] bool enabled, [MarshalAs(UnmanagedType.U1)] bool warnOnly);

    [LibraryImport(Library, EntryPoint = "_ZN2at7Context39setDeterministicFillUninitializedMemoryEb")]
    private static partial void SetDeterministicFillUninitializedMemory(IntPtr context, [MarshalAs(UnmanagedType.U1)] bool enabled);

    [LibraryImport(Library, EntryPoint = "_ZN2at7Context21setDeterministicCuDNNEb")]
    private static partial void SetDeterministicCuDnn(IntPtr context, [MarshalAs(UnmanagedType.U1)] bool enabled);

    [LibraryImport(Library, EntryPoint = "_ZN2at7Context17setBenchmarkCuDNNEb")]
    private static partial void SetBenchmarkCuDnn(IntPtr context, [MarshalAs(UnmanagedType.U1)] bool enabled);

    [LibraryImport("libc", EntryPoint = "mallopt")]
    private static partial int Mallopt(int parameter, int value);

    [LibraryImport("libc", EntryPoint = "malloc_trim")]
    private static partial int MallocTrim(nuint pad);

    [LibraryImport("libc", EntryPoint = "setenv", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int SetEnv(string name, string value, int overwrite);
}
