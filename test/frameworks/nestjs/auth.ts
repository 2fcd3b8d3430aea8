import {
  type ArgumentsHost,
  Catch,
  Controller,
  type ExceptionFilter,
  type ExecutionContext,
  Get,
  HttpException,
  Injectable,
  Redirect,
  Req,
  UnauthorizedException,
  UseGuards,
} from '@nestjs/common';
import { AuthGuard, PassportSerializer } from '@nestjs/passport';
import type { Request, Response } from 'express';
import { ItsMeError } from '../../../lib/index.js';
import type { Person } from './strategies.js';

/** Answers an `ItsMeError` (misconfiguration, ZignSec down, verify too slow) with a 500 naming its code. */
@Catch(ItsMeError)
export class ItsMeErrorFilter implements ExceptionFilter {
  catch(err: ItsMeError, host: ArgumentsHost): void {
    host.switchToHttp().getResponse<Response>().status(500).json({ statusCode: 500, code: err.code });
  }
}

/**
 * `AuthGuard('itsme')` that also keeps the person in the session (Nest's guard alone does not log in),
 * and answers a failed login with the strategy's status and message.
 */
@Injectable()
export class ItsMeGuard extends AuthGuard('itsme') {
  override async canActivate(context: ExecutionContext): Promise<boolean> {
    const allowed = (await super.canActivate(context)) as boolean;
    await super.logIn(context.switchToHttp().getRequest());
    return allowed;
  }

  override handleRequest<TUser = Person>(
    err: unknown,
    user: TUser | false,
    info: { message?: string } | undefined,
    _context: ExecutionContext,
    status?: number,
  ): TUser {
    if (err) throw err;
    if (!user) throw new HttpException(info?.message ?? 'Login failed.', status ?? 401);
    return user;
  }
}

@Injectable()
export class SessionSerializer extends PassportSerializer {
  serializeUser(user: Person, done: (err: Error | null, id?: Person) => void): void {
    done(null, user);
  }

  deserializeUser(payload: Person, done: (err: Error | null, user?: Person) => void): void {
    done(null, payload);
  }
}

@Controller('auth/itsme')
export class ItsMeController {
  /** The guard sends the browser to itsme; this body never runs. */
  @Get()
  @UseGuards(AuthGuard('itsme'))
  start(): void {}

  @Get('callback')
  @UseGuards(ItsMeGuard)
  @Redirect('/me')
  callback(): void {}
}

@Controller()
export class MeController {
  @Get('me')
  me(@Req() req: Request): Express.User {
    if (!req.user) throw new UnauthorizedException('Not logged in.');
    return req.user;
  }
}
