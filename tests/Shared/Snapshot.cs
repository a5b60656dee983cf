using System.Runtime.CompilerServices;
using Xunit;

namespace FairNad.Tests.Shared;

/// <summary>
/// Snapshot files: Snapshots/&lt;name&gt;.snap beside the test, copied to the output folder (CI maps source paths, so the
/// copy is what is read). FAIRNAD_UPDATE_SNAPSHOTS=1 rewrites the source snapshot instead; review the diff.
/// </summary>
public static class Snapshot
{
    public static void Match(string name, string actual, [CallerFilePath] string testFile = "")
    {
        var path = Path.Combine(AppContext.BaseDirectory, "Snapshots", name + ".snap");
        if (Environment.GetEnvironmentVariable("FAIRNAD_UPDATE_SNAPSHOTS") == "1")
        {
            var source = Path.Combine(Path.GetDirectoryName(testFile)!, "Snapshots", name + ".snap");
            Directory.CreateDirectory(Path.GetDirectoryName(source)!);
            File.WriteAllText(source, actual);
            return;
        }

        Assert.True(File.Exists(path), $"snapshot {path} is missing; run the tests once with FAIRNAD_UPDATE_SNAPSHOTS=1 and review the diff");
        Assert.Equal(File.ReadAllText(path), actual);
    }
}
