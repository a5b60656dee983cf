using FairNad.Build.Engine;
using FairNad.Build.Engine.Tooling;

internal sealed partial class Build
{
    [Parameter("Also run the slow end-to-end tests (trait Category=Slow); on by default on CI servers.")]
    readonly bool Slow = IsServerBuild;

    [Parameter("Extra dotnet test filter, combined with the Slow filter, e.g. FullyQualifiedName~Engine.")]
    readonly string? TestFilter;

    AbsolutePath TestResultsDirectory => RootDirectory / "artifacts" / "test-results";

    string? EffectiveTestFilter => string.Join("&", new[] { Slow ? null : "Category!=Slow", TestFilter }.Where(f => !string.IsNullOrWhiteSpace(f)));

    Target Test => _ => _
        .Description("Runs every test project; TRX files go to artifacts/test-results; ends with 'N passed, N failed, N skipped'.")
        .DependsOn(Compile)
        .Executes(() => DotNetTasks.Test(Solution, Configuration.ToString(), TestResultsDirectory, EffectiveTestFilter, MsBuildProperties, ReportClosingLine));
}
