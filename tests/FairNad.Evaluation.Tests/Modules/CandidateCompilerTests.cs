using FairNad.Architecture;
using FairNad.Architecture.Models;
using FairNad.Evaluation.Compilation;

namespace FairNad.Evaluation.Tests.Modules;

public sealed class CandidateCompilerTests
{
    [Fact]
    public void Compile_BrokenSource_ReportsErrorsWithPositions()
    {
        const string source = "using FairNad.Evaluation.Modules;\nclass Broken\n{\n    int Width() => Layers.Missing(3);\n    string Name() => 42;\n}\n";

        var error = Assert.Throws<CompilationFailedException>(() => CandidateCompiler.Compile("Broken", [new SourceFile("broken.cs", source)]));

        var errors = error.Diagnostics.Where(d => d.Severity == "error").ToList();
        Assert.Equal(2, errors.Count);
        Assert.Equal(("broken.cs", 4, 27, "CS0117"), (errors[0].Path, errors[0].Line, errors[0].Column, errors[0].Id));
        Assert.Contains("Missing", errors[0].Message);
        Assert.Equal(("broken.cs", 5, 22, "CS0029"), (errors[1].Path, errors[1].Line, errors[1].Column, errors[1].Id));
        Assert.Contains("broken.cs(4,27): error CS0117", error.Message);
    }

    [Fact]
    public void Emit_SameSourceTwice_IdenticalAssemblyBytes()
    {
        var code = TorchSharpCodeWriter.Write(ReferenceArchitectures.Get("shufflenetv2"));

        var first = CandidateCompiler.Emit("Same", [new SourceFile("a.cs", code)]);
        var second = CandidateCompiler.Emit("Same", [new SourceFile("a.cs", code)]);

        Assert.NotNull(first.Image);
        Assert.Equal(first.Image, second.Image);
        Assert.DoesNotContain(first.Diagnostics, d => d.Severity == "error");
    }

    [Fact]
    public void ReferencePaths_FixedSet_TorchSharpAndLayerLibraryAndCoreOnly()
    {
        var names = CandidateCompiler.ReferencePaths.Select(Path.GetFileNameWithoutExtension).ToList();

        Assert.Contains("TorchSharp", names);
        Assert.Contains("FairNad.Evaluation", names);
        Assert.DoesNotContain("System.Net.Http", names);
        Assert.DoesNotContain("System.Diagnostics.Process", names);
        Assert.DoesNotContain("System.Runtime.InteropServices", names);
    }
}
