using System.Diagnostics;

namespace FairNad.Build.Engine.Tooling;

/// <summary>A tool the build ran exited with an error; its output has already been shown.</summary>
public sealed class ToolException(string message) : Exception(message);

/// <summary>Runs external tools with their output streamed to the console, failing on a non-zero exit code.</summary>
public static class ProcessTasks
{
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
        using var interrupt = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGINT, context => context.Cancel = true);
        using var process = Process.Start(start) ?? throw new ToolException($"could not start {tool}");
        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            throw new ToolException($"{tool} {list.FirstOrDefault()} exited with code {process.ExitCode}");
        }
    }

    private static string Quote(string argument) => argument.Contains(' ', StringComparison.Ordinal) ? $"\"{argument}\"" : argument;
}
