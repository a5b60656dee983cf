using System.Diagnostics;
using System.Text;

namespace FairNad.Experiments.Slurm;

/// <summary>What a Slurm command did: whether it started at all, its exit code and its output.</summary>
/// <param name="Command">The command line as a user would type it, for messages.</param>
/// <param name="StartError">Why it could not be started (not found, not executable); null when it ran.</param>
public sealed record SlurmCommandResult(string Command, bool Started, int ExitCode, string Output, string Error, string? StartError = null)
{
    public bool Succeeded => Started && ExitCode == 0;

    /// <summary>Standard output and error together, trimmed, for a message.</summary>
    public string Text => string.Join(" ", new[] { Output.Trim(), Error.Trim() }.Where(t => t.Length > 0));

    /// <summary>"`command` exited with code N: output" (or why it did not start), for a message.</summary>
    public string Describe() => !Started
        ? $"`{Command}` could not be started ({StartError})"
        : $"`{Command}` exited with code {ExitCode}{(Text.Length > 0 ? $": {Text}" : " and printed nothing")}";
}

/// <summary>
/// Runs the Slurm client commands (sbatch, squeue, scontrol, scancel, sinfo) as child processes and captures their output.
/// The commands come from PATH, or from <paramref name="directory"/>; <paramref name="environment"/> is added to theirs
/// (e.g. SLURM_CONF for another cluster's configuration).
/// </summary>
public sealed class SlurmCommands(string? directory = null, IReadOnlyDictionary<string, string>? environment = null)
{
    /// <summary>Slurm from PATH with this process's environment.</summary>
    public static readonly SlurmCommands Default = new();

    /// <summary>How long one command may take; a controller that does not answer within it counts as unreachable.</summary>
    public static readonly TimeSpan CommandTimeout = TimeSpan.FromMinutes(2);

    public async Task<SlurmCommandResult> RunAsync(string command, IReadOnlyList<string> arguments, CancellationToken cancel = default)
    {
        var program = directory is null ? command : Path.Combine(directory, command);
        var line = string.Join(" ", new[] { command }.Concat(arguments.Select(Quote)));
        var start = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[name] = value;
        }

        Process process;
        try
        {
            process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {program}");
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or InvalidOperationException)
        {
            return new SlurmCommandResult(line, false, -1, string.Empty, string.Empty, e.Message);
        }

        using (process)
        {
            var output = process.StandardOutput.ReadToEndAsync(CancellationToken.None);
            var error = process.StandardError.ReadToEndAsync(CancellationToken.None);
            using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancel);
            limit.CancelAfter(CommandTimeout);
            try
            {
                await process.WaitForExitAsync(limit.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync(CancellationToken.None).ConfigureAwait(false);
                cancel.ThrowIfCancellationRequested();
                return new SlurmCommandResult(line, true, -1, await output.ConfigureAwait(false), $"no answer within {CommandTimeout.TotalSeconds:0} s; stopped");
            }

            return new SlurmCommandResult(line, true, process.ExitCode, await output.ConfigureAwait(false), await error.ConfigureAwait(false));
        }
    }

    /// <summary>An argument as a POSIX shell would need it: bare when it is safe, else in single quotes.</summary>
    public static string Quote(string argument)
    {
        if (argument.Length > 0 && argument.All(c => char.IsAsciiLetterOrDigit(c) || "-_./=:,%+@".Contains(c)))
        {
            return argument;
        }

        var quoted = new StringBuilder("'");
        quoted.Append(argument.Replace("'", "'\\''", StringComparison.Ordinal));
        return quoted.Append('\'').ToString();
    }
}
