using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;

namespace FairNad.Evaluation.Isolation;

/// <summary>
/// Ties worker processes to the process that started them, so a worker never outlives its runner: a killed runner
/// (kill -9 included) takes its workers with it, and none goes on writing result files outside the runner's timeout and
/// memory cap. Two mechanisms: the worker asks the kernel for SIGKILL when its parent dies (prctl PR_SET_PDEATHSIG;
/// Linux delivers it when the parent thread that started the worker ends, and the runner's thread waits for the worker
/// for its whole life), and every worker of a run carries the run's folder in its environment, so a resumed run finds
/// and ends any left behind.
/// </summary>
public static partial class WorkerLifetime
{
    /// <summary>Set in a worker's environment: the process id of the runner that started it.</summary>
    public const string ParentVariable = "FAIRNAD_WORKER_PARENT";

    /// <summary>Set in a worker's environment: the run folder it works for.</summary>
    public const string RunVariable = "FAIRNAD_WORKER_RUN";

    private const int PrSetPdeathsig = 1;
    private const int SigKill = 9;

    /// <summary>Marks a worker to be started: its parent, and the run it belongs to (if any).</summary>
    public static void Mark(ProcessStartInfo start, string? runDirectory)
    {
        start.Environment[ParentVariable] = Environment.ProcessId.ToString(CultureInfo.InvariantCulture);
        if (runDirectory is not null)
        {
            start.Environment[RunVariable] = Path.GetFullPath(runDirectory);
        }
    }

    /// <summary>
    /// Called first thing in a worker: if it was started by a runner, die with it. If the runner is already gone (it
    /// died between starting the worker and this call), exit at once.
    /// </summary>
    public static void BindToParent()
    {
        if (Environment.GetEnvironmentVariable(ParentVariable) is not { } text || !OperatingSystem.IsLinux()
            || !int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var parent))
        {
            return;
        }

        if (Prctl(PrSetPdeathsig, SigKill, 0, 0, 0) != 0)
        {
            throw new InvalidOperationException($"prctl(PR_SET_PDEATHSIG) failed with errno {Marshal.GetLastPInvokeError()}");
        }

        if (GetParentProcessId() != parent)
        {
            Environment.Exit(137);
        }
    }

    /// <summary>Processes other than this one whose environment says they are workers of <paramref name="runDirectory"/>.</summary>
    public static IReadOnlyList<(int Pid, string Command)> Find(string runDirectory)
    {
        if (!OperatingSystem.IsLinux())
        {
            return [];
        }

        var marker = Encoding.UTF8.GetBytes($"{RunVariable}={Path.GetFullPath(runDirectory)}");
        var found = new List<(int, string)>();
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(directory), NumberStyles.None, CultureInfo.InvariantCulture, out var pid) || pid == Environment.ProcessId)
            {
                continue;
            }

            try
            {
                var environment = File.ReadAllBytes(Path.Combine(directory, "environ"));
                if (HasEntry(environment, marker))
                {
                    var command = File.ReadAllText(Path.Combine(directory, "cmdline")).Replace('\0', ' ').Trim();
                    found.Add((pid, command));
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Gone meanwhile, or another user's process: not ours.
            }
        }

        return found;
    }

    /// <summary>Ends (SIGKILL) every worker left behind by an earlier runner of <paramref name="runDirectory"/>; returns what it ended.</summary>
    public static IReadOnlyList<(int Pid, string Command)> EndStale(string runDirectory)
    {
        var stale = Find(runDirectory);
        foreach (var (pid, _) in stale)
        {
            try
            {
                using var process = Process.GetProcessById(pid);
                process.Kill(entireProcessTree: true);
                process.WaitForExit();
            }
            catch (Exception e) when (e is ArgumentException or InvalidOperationException or System.ComponentModel.Win32Exception)
            {
                // Already exited.
            }
        }

        return stale;
    }

    /// <summary>Whether the NUL-separated <paramref name="environment"/> holds exactly the entry <paramref name="entry"/>.</summary>
    private static bool HasEntry(byte[] environment, byte[] entry)
    {
        var start = 0;
        while (start < environment.Length)
        {
            var end = Array.IndexOf(environment, (byte)0, start);
            end = end < 0 ? environment.Length : end;
            if (environment.AsSpan(start, end - start).SequenceEqual(entry))
            {
                return true;
            }

            start = end + 1;
        }

        return false;
    }

    [LibraryImport("libc", EntryPoint = "prctl", SetLastError = true)]
    private static partial int Prctl(int option, ulong arg2, ulong arg3, ulong arg4, ulong arg5);

    [LibraryImport("libc", EntryPoint = "getppid")]
    private static partial int GetParentProcessId();
}
