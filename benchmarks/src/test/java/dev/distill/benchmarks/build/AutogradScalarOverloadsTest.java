package dev.distill.benchmarks.build;

import static org.assertj.core.api.Assertions.assertThat;

import com.sun.source.tree.CompilationUnitTree;
import com.sun.source.tree.MethodInvocationTree;
import com.sun.source.util.JavacTask;
import com.sun.source.util.TreePathScanner;
import com.sun.source.util.Trees;
import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;
import javax.lang.model.element.Element;
import javax.lang.model.element.ExecutableElement;
import javax.lang.model.element.TypeElement;
import javax.tools.Diagnostic;
import javax.tools.DiagnosticCollector;
import javax.tools.JavaCompiler;
import javax.tools.JavaFileObject;
import javax.tools.StandardJavaFileManager;
import javax.tools.ToolProvider;
import org.junit.jupiter.api.Test;

/**
 * No main source of the modules that run DJL calls an {@code NDArray} method with a {@code Number}
 * operand whose scalar autograd saves for the backward pass ({@code mul}, {@code div}, {@code pow},
 * {@code maximum}, {@code minimum} and their in-place forms). On the PyTorch engine those wrap the
 * number in memory the JVM frees under autograd's feet, which corrupted gradients at random steps
 * (issue 5); {@code dev.distill.models.autograd.Scalars} is the safe spelling. The check
 * type-attributes the sources with javac, so it sees through variables and overloads. It lives in
 * {@code benchmarks}, the one module whose test class path compiles every module's main sources
 * (deploy's and its own JMH benchmarks included).
 */
class AutogradScalarOverloadsTest {
  private static final Set<String> UNSAFE =
      Set.of(
          "mul", "muli", "div", "divi", "pow", "powi", "maximum", "minimum", "rdiv", "rdivi",
          "rpow", "rpowi");
  private static final List<String> MODULES =
      List.of("models", "student-trainer", "teacher-service", "deploy", "benchmarks");

  @Test
  void noMainSourceCallsAnNdArrayNumberOverloadThatAutogradKeeps() throws IOException {
    Path root = Path.of("").toAbsolutePath().getParent();
    List<Path> files = new ArrayList<>();
    for (String module : MODULES) {
      try (Stream<Path> s = Files.walk(root.resolve(module).resolve("src/main/java"))) {
        s.filter(p -> p.toString().endsWith(".java")).forEach(files::add);
      }
    }
    assertThat(files).hasSizeGreaterThan(100);

    JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
    DiagnosticCollector<JavaFileObject> diagnostics = new DiagnosticCollector<>();
    StandardJavaFileManager fm = javac.getStandardFileManager(null, null, null);
    JavacTask task =
        (JavacTask)
            javac.getTask(
                null,
                fm,
                diagnostics,
                List.of("-proc:none", "-cp", classPath()),
                null,
                fm.getJavaFileObjectsFromPaths(files));
    Iterable<? extends CompilationUnitTree> units = task.parse();
    task.analyze();
    List<String> errors =
        diagnostics.getDiagnostics().stream()
            .filter(d -> d.getKind() == Diagnostic.Kind.ERROR)
            .map(d -> d.getSource() + ":" + d.getLineNumber() + " " + d.getMessage(null))
            .toList();
    // Unresolved symbols would hide calls from the check below, so they fail it too.
    assertThat(errors).as("sources attribute cleanly").isEmpty();

    Trees trees = Trees.instance(task);
    List<String> offenders = new ArrayList<>();
    for (CompilationUnitTree unit : units) {
      new TreePathScanner<Void, Void>() {
        @Override
        public Void visitMethodInvocation(MethodInvocationTree call, Void unused) {
          Element e = trees.getElement(getCurrentPath());
          if (e instanceof ExecutableElement m
              && UNSAFE.contains(m.getSimpleName().toString())
              && ((TypeElement) m.getEnclosingElement())
                  .getQualifiedName()
                  .toString()
                  .startsWith("ai.djl.")
              && m.getParameters().stream()
                  .anyMatch(p -> p.asType().toString().equals("java.lang.Number"))) {
            long line =
                unit.getLineMap()
                    .getLineNumber(trees.getSourcePositions().getStartPosition(unit, call));
            offenders.add(
                root.relativize(Path.of(unit.getSourceFile().toUri()))
                    + ":"
                    + line
                    + " "
                    + m.getSimpleName()
                    + "(Number): use dev.distill.models.autograd.Scalars");
          }
          return super.visitMethodInvocation(call, unused);
        }
      }.scan(unit, null);
    }
    assertThat(offenders).isEmpty();
  }

  /** The test class path; Surefire may hide it behind a manifest-only jar. */
  private static String classPath() {
    String cp = System.getProperty("surefire.test.class.path");
    if (cp == null || cp.isBlank()) {
      cp = System.getProperty("java.class.path");
    }
    return String.join(File.pathSeparator, cp.split(File.pathSeparator));
  }
}
