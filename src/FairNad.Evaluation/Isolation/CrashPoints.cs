using System.Collections.Concurrent;
using System.Globalization;
using System.Runtime.InteropServices;

namespace FairNad.Evaluation.Isolation;

/// <summary>
/// Test hook for crash safety: when the environment variable <c>FAIRNAD_TEST_CRASH</c> is <c>&lt;point&gt;:&lt;n&gt;</c>, the
/// process kills itself with SIGKILL the n-th time it reaches that point, exactly as `kill -9` would at that moment. The
/// points sit between the steps of recording a candidate (result file, lineage commit and note, journal line) and inside
/// training, where no test could time an outside kill. With <c>SIGTERM@&lt;point&gt;:&lt;n&gt;</c> the process sends
/// itself SIGTERM there instead and carries on, so a test can check the graceful stop at a known moment. Unset, it costs
/// one dictionary lookup.
/// </summary>
public static partial class CrashPoints
{
    public const string Variable = "FAIRNAD_TEST_CRASH";

    private const string TerminatePrefix = "SIGTERM@";
    private const int Sigterm = 15;

    private static readonly (string Point, int Count, bool Terminate)? Target = Parse(Environment.GetEnvironmentVariable(Variable));
    private static readonly ConcurrentDictionary<string, int> Reached = new(StringComparer.Ordinal);

    /// <summary>Marks that <paramref name="point"/> was reached; dies (or is sent SIGTERM) here if this is the configured time.</summary>
    public static void Reach(string point)
    {
        if (Target is not { } target || target.Point != point)
        {
            return;
        }

        if (Reached.AddOrUpdate(point, 1, (_, n) => n + 1) == target.Count)
        {
            if (target.Terminate)
            {
                Console.Error.WriteLine($"{Variable}: sending SIGTERM to this process (pid {Environment.ProcessId}) at {point} #{target.Count}");
                Console.Error.Flush();
                _ = Signal(Environment.ProcessId, Sigterm);
                return;
            }

            Console.Error.WriteLine($"{Variable}: killing this process (pid {Environment.ProcessId}) at {point} #{target.Count}");
            Console.Error.Flush();
            System.Diagnostics.Process.GetCurrentProcess().Kill();
            Thread.Sleep(Timeout.Infinite);
        }
    }

    private static (string, int, bool)? Parse(string? text)
    {
        var terminate = text?.StartsWith(TerminatePrefix, StringComparison.Ordinal) == true;
        if (terminate)
        {
            text = text![TerminatePrefix.Length..];
        }

        var colon = text?.LastIndexOf(':') ?? -1;
        return colon > 0 && int.TryParse(text![(colon + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out var count) && count > 0
            ? (text[..colon], count, terminate)
            : null;
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Signal(int pid, int signal);
}
