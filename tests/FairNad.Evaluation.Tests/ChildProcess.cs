using System.Diagnostics;
using FairNad.Evaluation.Tests.Training;
using FairNad.Evaluation.Training;

namespace FairNad.Evaluation.Tests;

/// <summary>
/// This test assembly run as a program (<c>dotnet FairNad.Evaluation.Tests.dll &lt;mode&gt;</c>), for tests that must see
/// what native code prints to the process's own stdout and stderr: libtorch writes there directly, past Console, so
/// only a child process shows it.
/// </summary>
internal static class ChildProcess
{
    public const string EvaluateTiny = "evaluate-tiny";

    /// <summary><see cref="EvaluateTiny"/> with NNPACK switched back on after the kernel policy, whatever the CPU.</summary>
    public const string EvaluateTinyNnpackForced = "evaluate-tiny-nnpack-forced";

    public static int Main(string[] args)
    {
        if (args is not [var mode] || mode is not (EvaluateTiny or EvaluateTinyNnpackForced))
        {
            Console.Error.WriteLine($"usage: FairNad.Evaluation.Tests {EvaluateTiny}|{EvaluateTinyNnpackForced}");
            return 2;
        }

        TorchRuntime.EnsureLoaded();
        if (mode == EvaluateTinyNnpackForced)
        {
            LibTorchContext.SetNnpack(true);
        }

        // The tiny ResNet of the trainer tests: convolutions forward and backward in batches of 50, evaluation, latency.
        var config = TrainerTests.Small();
        using var data = TensorData.Prepare(TrainerTests.Splits(), config);
        var result = Trainer.Evaluate(TrainerTests.Tiny(), data, config);
        Console.WriteLine($"status {result.Status}, validation {result.LastValidationAccuracy:F2}%, test {result.TestAccuracy:F2}%");
        return result.Status == "ok" ? 0 : 1;
    }

    /// <summary>Runs this assembly in <paramref name="mode"/> and returns its exit code and everything it printed.</summary>
    public static (int ExitCode, string Output) Run(string mode, IReadOnlyDictionary<string, string> environment)
    {
        // Under `dotnet test` this process is the dotnet host running testhost.dll.
        var host = Environment.ProcessPath is { } path && Path.GetFileNameWithoutExtension(path) == "dotnet" ? path : "dotnet";
        var start = new ProcessStartInfo(host) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(typeof(ChildProcess).Assembly.Location);
        start.ArgumentList.Add(mode);
        foreach (var (name, value) in environment)
        {
            start.Environment[name] = value;
        }

        using var child = Process.Start(start) ?? throw new InvalidOperationException($"could not start {host}");
        var stderr = child.StandardError.ReadToEndAsync();
        var stdout = child.StandardOutput.ReadToEndAsync();
        if (!child.WaitForExit(TimeSpan.FromMinutes(2)))
        {
            child.Kill(entireProcessTree: true);
            throw new TimeoutException($"{mode} ran longer than 2 minutes");
        }

        return (child.ExitCode, stdout.Result + stderr.Result);
    }
}
