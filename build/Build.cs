using FairNad.Build.Engine;
using FairNad.Build.Engine.Tooling;

/// <summary>
/// FairNad's pipeline as build targets. Each target body is one call into a library, so the stages are usable without the
/// build and the engine stays swappable for Nuke.Common (a package reference and a namespace change).
/// </summary>
internal sealed partial class Build : NukeBuild
{
    public static int Main() => Execute<Build>(x => x.Compile);

    [Parameter("Build configuration of the solution.")]
    readonly Configuration Configuration = Configuration.Debug;

    [Parameter("libtorch backend that TorchSharp projects reference: Cpu (served here) or Cuda (needs a package source serving TorchSharp-cuda-linux).")]
    readonly TorchBackend TorchBackend = TorchBackend.Cpu;

    AbsolutePath Solution => RootDirectory / "FairNad.sln";

    IReadOnlyDictionary<string, string> MsBuildProperties => new Dictionary<string, string>
    {
        ["TorchBackend"] = TorchBackend.ToString().ToLowerInvariant(),
    };

    Target Restore => _ => _
        .Description("Restores the NuGet packages of the solution.")
        .Executes(() => DotNetTasks.Restore(Solution, MsBuildProperties));

    Target Compile => _ => _
        .Description("Builds the solution (warnings are errors).")
        .DependsOn(Restore)
        .Executes(() => DotNetTasks.Build(Solution, Configuration.ToString(), MsBuildProperties));
}

internal enum Configuration
{
    Debug,
    Release,
}

internal enum TorchBackend
{
    Cpu,
    Cuda,
}
