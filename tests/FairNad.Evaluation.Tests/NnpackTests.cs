using System.Diagnostics;
using Xunit.Abstractions;

namespace FairNad.Evaluation.Tests;

/// <summary>
/// On a CPU that NNPACK does not support, libtorch prints "Could not initialize NNPACK! Reason: Unsupported hardware."
/// to stderr at every convolution unless NNPACK is switched off (<see cref="TorchRuntime.KernelPolicy"/>). Such a CPU
/// is simulated where a C compiler is at hand: a preloaded nnp_initialize that answers NNPACK's "unsupported hardware"
/// status (51), which is what libtorch calls through the dynamic linker to decide.
/// </summary>
public sealed class NnpackTests(ITestOutputHelper output)
{
    private const string Warning = "Could not initialize NNPACK! Reason: Unsupported hardware.";

    private static readonly Lazy<string?> UnsupportedCpu = new(CompileUnsupportedCpu);

    private static readonly Lazy<(int ExitCode, string Output)> PolicyRun = new(() => ChildProcess.Run(ChildProcess.EvaluateTiny, Simulation()));

    [Fact]
    public void Evaluate_CpuWithoutNnpack_ChildPrintsNoNnpackLine()
    {
        var (exitCode, text) = PolicyRun.Value;

        Assert.True(exitCode == 0, $"the child evaluation failed ({exitCode}):\n{text}");
        Assert.Contains("status ok", text, StringComparison.Ordinal);
        Assert.DoesNotContain(Lines(text), l => l.Contains("NNPACK", StringComparison.Ordinal));
    }

    [Fact]
    public void Evaluate_CpuWithoutNnpackWithNnpackLeftOn_WarnsAndGivesTheSameResult()
    {
        if (UnsupportedCpu.Value is null && TorchRuntime.NnpackEnabled)
        {
            output.WriteLine("no C compiler to simulate a CPU without NNPACK, and this one supports it: nothing to compare");
            return;
        }

        var (exitCode, text) = ChildProcess.Run(ChildProcess.EvaluateTinyNnpackForced, Simulation());
        var policy = PolicyRun.Value;

        Assert.True(exitCode == 0, $"the child evaluation failed ({exitCode}):\n{text}");
        Assert.Contains(Warning, text, StringComparison.Ordinal);
        Assert.Equal(ResultLine(policy.Output), ResultLine(text));
    }

    private static Dictionary<string, string> Simulation() =>
        UnsupportedCpu.Value is { } library ? new() { ["LD_PRELOAD"] = library } : [];

    private static string[] Lines(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries);

    private static string ResultLine(string text) => Assert.Single(Lines(text), l => l.StartsWith("status ", StringComparison.Ordinal));

    /// <summary>A shared library whose nnp_initialize reports unsupported hardware, or null without a C compiler.</summary>
    private static string? CompileUnsupportedCpu()
    {
        if (!OperatingSystem.IsLinux())
        {
            return null;
        }

        var directory = Directory.CreateTempSubdirectory("fairnad-nnpack-").FullName;
        var source = Path.Combine(directory, "unsupported.c");
        var library = Path.Combine(directory, "libunsupported.so");
        File.WriteAllText(source, "int nnp_initialize(void) { return 51; /* nnp_status_unsupported_hardware */ }\n");
        try
        {
            using var compiler = Process.Start(new ProcessStartInfo("cc", ["-shared", "-fPIC", "-o", library, source]) { UseShellExecute = false, RedirectStandardError = true })!;
            compiler.StandardError.ReadToEnd();
            compiler.WaitForExit();
            return compiler.ExitCode == 0 && File.Exists(library) ? library : null;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return null;
        }
    }
}
