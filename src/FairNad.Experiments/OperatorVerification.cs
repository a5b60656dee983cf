using System.Diagnostics;
using FairNad.Architecture;
using FairNad.Evaluation.Compilation;
using FairNad.Evaluation.Isolation;

namespace FairNad.Experiments;

/// <summary>
/// Runs structural verification of LLM-written operators (`fairnad operators verify`) in a fresh worker process with a
/// wall-clock timeout and a resident-memory cap, and, where the kernel lets an unprivileged process create one, in a new
/// network namespace with no interfaces but loopback (<c>unshare --user --map-root-user --net</c>), so compiled LLM code
/// has no network even if the sandbox missed something. A worker that loops, allocates past the cap, overflows its stack
/// or crashes becomes a problem message for the LLM's repair round, never an exception of the search.
/// </summary>
public sealed class OperatorVerification(WorkerCommand command, string workDirectory, WorkerLimits limits)
{
    private static readonly Lazy<bool> NetworkNamespace = new(() => Probe("unshare", ["--user", "--map-root-user", "--net", "true"]));

    /// <summary>Whether workers that run LLM-written code get a network namespace of their own on this machine.</summary>
    public static bool HasNetworkNamespace => NetworkNamespace.Value;

    public WorkerLimits Limits => limits;

    /// <summary>Verifies <paramref name="spec"/> with <paramref name="sources"/> in a worker; the report, or one problem naming how the worker ended.</summary>
    public OperatorVerificationReport Verify(ArchitectureSpec spec, IReadOnlyDictionary<string, string> sources)
    {
        var directory = Path.Combine(Path.GetFullPath(workDirectory), "verify-" + spec.Id[..16]);
        Directory.CreateDirectory(directory);
        var store = new OperatorStore(Path.Combine(directory, OperatorSources.Folder));
        foreach (var source in sources.Values)
        {
            store.Put(source);
        }

        var specPath = Path.Combine(directory, "architecture.json");
        var reportPath = Path.Combine(directory, "report.json");
        File.WriteAllText(specPath, SpecJson.Write(spec));
        File.Delete(reportPath);
        var arguments = command.Prefix.Concat(["operators", "verify", specPath, "--out", reportPath]).ToList();
        var (fileName, list) = HasNetworkNamespace
            ? ("unshare", (IReadOnlyList<string>)["--user", "--map-root-user", "--net", "--", command.FileName, .. arguments])
            : (command.FileName, arguments);
        var ended = Run(fileName, list, out var stderr);
        if (ended is not null)
        {
            return OperatorVerificationReport.Failed($"the verification worker {ended}; the operator must construct and run within {limits.Timeout.TotalSeconds:0} s and {limits.MemoryBytes >> 20} MiB");
        }

        if (!File.Exists(reportPath))
        {
            return OperatorVerificationReport.Failed($"the verification worker ended without a report; stderr: {stderr}");
        }

        try
        {
            return OperatorVerificationReport.Parse(File.ReadAllText(reportPath), reportPath);
        }
        catch (FormatException e)
        {
            return OperatorVerificationReport.Failed(e.Message);
        }
    }

    /// <summary>Null when the process exited by itself; else how it ended (stopped at a limit, or killed by a signal).</summary>
    private string? Run(string fileName, IReadOnlyList<string> arguments, out string stderr)
    {
        var start = new ProcessStartInfo(fileName) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        WorkerLifetime.Mark(start, null);
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {fileName}");
        var errors = new System.Text.StringBuilder();
        process.ErrorDataReceived += (_, e) =>
        {
            lock (errors)
            {
                if (e.Data is not null && errors.Length < 4096)
                {
                    errors.AppendLine(e.Data);
                }
            }
        };
        process.OutputDataReceived += (_, _) => { };
        process.BeginErrorReadLine();
        process.BeginOutputReadLine();
        var watch = Stopwatch.StartNew();
        string? stopped = null;
        while (!process.WaitForExit(100))
        {
            if (watch.Elapsed > limits.Timeout)
            {
                stopped = $"ran longer than {limits.Timeout.TotalSeconds:0} s and was stopped";
            }
            else if (ResidentBytes(process) > limits.MemoryBytes)
            {
                stopped = $"went over the memory cap of {limits.MemoryBytes >> 20} MiB and was stopped";
            }

            if (stopped is not null)
            {
                process.Kill(entireProcessTree: true);
                process.WaitForExit();
                break;
            }
        }

        process.WaitForExit();
        lock (errors)
        {
            stderr = errors.ToString().Trim();
        }

        if (stopped is not null)
        {
            return stopped;
        }

        var code = process.ExitCode;
        return code > 128 && code < 160 ? $"was killed by signal {code - 128} (a crash such as a stack overflow)" : code is 0 or 1 ? null : $"exited with code {code}";
    }

    /// <summary>Resident memory of the process and its children (unshare runs the worker as its child).</summary>
    private static long ResidentBytes(Process process)
    {
        try
        {
            process.Refresh();
            var total = process.WorkingSet64;
            foreach (var child in Children(process.Id))
            {
                total += child;
            }

            return total;
        }
        catch (InvalidOperationException)
        {
            return 0;
        }
    }

    private static IEnumerable<long> Children(int pid)
    {
        var path = $"/proc/{pid}/task/{pid}/children";
        if (!File.Exists(path))
        {
            yield break;
        }

        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (IOException)
        {
            yield break;
        }

        foreach (var part in text.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            long bytes = 0;
            try
            {
                using var child = Process.GetProcessById(int.Parse(part, System.Globalization.CultureInfo.InvariantCulture));
                bytes = child.WorkingSet64;
            }
            catch (ArgumentException)
            {
            }
            catch (InvalidOperationException)
            {
            }

            yield return bytes;
        }
    }

    private static bool Probe(string fileName, IReadOnlyList<string> arguments)
    {
        try
        {
            var start = new ProcessStartInfo(fileName) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            foreach (var argument in arguments)
            {
                start.ArgumentList.Add(argument);
            }

            using var process = Process.Start(start);
            if (process is null || !process.WaitForExit(5000))
            {
                return false;
            }

            return process.ExitCode == 0;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return false;
        }
    }
}
