using System.Diagnostics;
using System.Runtime.InteropServices;

namespace FairNad.Build.Engine.Tooling;

/// <summary>A tool the build ran exited with an error; its output has already been shown.</summary>
public sealed class ToolException(string message) : Exception(message);

/// <summary>Runs external tools with their output streamed to the console, failing on a non-zero exit code.</summary>
public static partial class ProcessTasks
{
    private const int Sigterm = 15;

    public static void Run(string tool, IEnumerable<string> arguments, string? workingDirectory = null)
    {
        var start = new ProcessStartInfo(tool)
        {
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? Directory.GetCurrentDirectory(),
        };
        var list = arguments.ToList();
        foreach (var argument in list)
        {
            start.ArgumentList.Add(argument);
        }

        Console.WriteLine($"> {tool} {string.Join(" ", list.Select(Quote))}");
        Console.Out.Flush();
        // Ctrl+C reaches the tool too (one process group): the tool decides how to stop (a search records what it has and
        // exits), and the build waits for it, sees its exit code and fails as usual, running its cleanup (a target's
        // finally blocks, such as Compare exporting a run's lineage) instead of vanishing mid-way.
        using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, context => context.Cancel = true);
        Process? running = null;
        // SIGTERM (kill, a cluster's time limit, a service manager) is handled the same way, and passed on to the tool,
        // because it is often sent to the build alone. It is the way to stop a build started in the background from a
        // script: such a process inherits SIGINT ignored and never sees a Ctrl+C-style signal.
        using var terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context =>
        {
            context.Cancel = true;
            if (Volatile.Read(ref running) is { } child)
            {
                _ = Signal(child.Id, Sigterm);
            }
        });
        using var process = Process.Start(start) ?? throw new ToolException($"could not start {tool}");
        Volatile.Write(ref running, process);
        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            throw new ToolException($"{tool} {list.FirstOrDefault()} exited with code {process.ExitCode}");
        }
    }

    private static string Quote(string argument) => argument.Contains(' ', StringComparison.Ordinal) ? $"\"{argument}\"" : argument;

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Signal(int pid, int signal);
}
