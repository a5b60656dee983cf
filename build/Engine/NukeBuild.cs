using System.Linq.Expressions;

namespace FairNad.Build.Engine;

/// <summary>Base class of a build: targets are properties of type <see cref="Target"/>, parameters are [Parameter] members.</summary>
public abstract class NukeBuild
{
    private static readonly string[] ServerVariables = ["CI", "TF_BUILD", "GITHUB_ACTIONS", "GITLAB_CI", "JENKINS_URL", "TEAMCITY_VERSION", "BUILDKITE"];

    /// <summary>True on a CI server (CI=true or a known CI's variable is set).</summary>
    public static bool IsServerBuild => ServerVariables.Any(v => Environment.GetEnvironmentVariable(v) is { Length: > 0 } value
        && !string.Equals(value, "false", StringComparison.OrdinalIgnoreCase) && value != "0");

    public static bool IsLocalBuild => !IsServerBuild;

    /// <summary>The repository root: the nearest directory upwards that holds a <c>.nuke</c> folder.</summary>
    public AbsolutePath RootDirectory { get; internal set; } = AbsolutePath.Create(Directory.GetCurrentDirectory());

    /// <summary>The targets this invocation runs, in execution order (available while targets run).</summary>
    public IReadOnlyList<string> ExecutionPlan { get; internal set; } = [];

    /// <summary>Lines printed after the summary table, last thing in the output (e.g. the test counts CI reads).</summary>
    internal List<string> ClosingLines { get; } = [];

    /// <summary>Adds a line to print after the summary table; targets use it for results a reader looks for at the end.</summary>
    protected void ReportClosingLine(string line) => ClosingLines.Add(line);

    /// <summary>Runs the build with the process's command line and environment; returns the exit code.</summary>
    protected static int Execute<T>(params Expression<Func<T, Target>>[] defaultTargets)
        where T : NukeBuild, new()
    {
        var root = BuildHost.FindRoot(Directory.GetCurrentDirectory()) ?? BuildHost.FindRoot(AppContext.BaseDirectory)
            ?? throw new BuildException("no .nuke folder found above the current directory or the build's binaries");
        var environment = Environment.GetEnvironmentVariables().Cast<System.Collections.DictionaryEntry>()
            .ToDictionary(e => (string)e.Key, e => (string?)e.Value ?? string.Empty, StringComparer.Ordinal);
        return BuildHost.Run(
            new T(),
            Environment.GetCommandLineArgs().Skip(1).ToArray(),
            new BuildContext(root, environment, Console.Out, Console.Error),
            defaultTargets.Select(e => ((MemberExpression)e.Body).Member.Name).ToArray());
    }
}

/// <summary>What a run of the build sees of the outside world; tests substitute each part.</summary>
public sealed record BuildContext(
    AbsolutePath RootDirectory,
    IReadOnlyDictionary<string, string> Environment,
    TextWriter Output,
    TextWriter Error);
