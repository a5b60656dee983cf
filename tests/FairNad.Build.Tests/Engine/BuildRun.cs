using FairNad.Build.Engine;

namespace FairNad.Build.Tests.Engine;

/// <summary>Runs a build in a temporary root with a chosen environment and captures what it prints.</summary>
internal sealed class BuildRun : IDisposable
{
    public BuildRun(Dictionary<string, string>? parametersFiles = null)
    {
        Root = AbsolutePath.Create(Path.Combine(Path.GetTempPath(), "fairnad-engine-" + Path.GetRandomFileName()));
        Directory.CreateDirectory(Root / ".nuke");
        foreach (var (name, content) in parametersFiles ?? [])
        {
            File.WriteAllText(Root / ".nuke" / name, content);
        }
    }

    public AbsolutePath Root { get; }

    public Dictionary<string, string> Environment { get; } = [];

    public StringWriter Output { get; } = new();

    public StringWriter Error { get; } = new();

    public int Execute(NukeBuild build, params string[] args) =>
        BuildHost.Run(build, args, new BuildContext(Root, Environment, Output, Error), ["Compile"]);

    public void Dispose() => Directory.Delete(Root, recursive: true);
}
